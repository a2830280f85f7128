#!/usr/bin/python3
"""gnarl against CleanRL's ppo.py on CartPole-v1, side by side in one run.

Usage:
  scripts/bench_cleanrl.py [--cleanrl DIR] [--gymnasium DIR] [--gnarl BIN]
                           [--rounds R] [--steps N] [--cleanrl-steps N]
                           [--zelda] [--busy no|yes|both] [--json]

Runs, alternating R rounds (medians reported): `gnarl bench` on
configs/cartpole.yaml (CleanRL ppo.py's hyperparameters: 4 envs x 128 steps,
4 epochs of 4 minibatches, separate 64 x 64 tanh actor and critic) and
CleanRL's ppo.py itself with torch on 1 thread, then prints both speeds and
the ratio.  With --zelda, `gnarl bench` on configs/env.yaml too (the default
3 x 256 shared network; CleanRL's ppo.py cannot run gnarl's env, so that row
has no ratio).  --busy yes keeps the other core busy with `nice -n 19 yes`
for the measurement (stopped by its pid), both measures quiet then busy.

CleanRL and Gymnasium are not part of gnarl: give their source trees with
--cleanrl (a CleanRL checkout, or its ppo.py) and --gymnasium (a Gymnasium
checkout: the directory holding gymnasium/; CleanRL's ppo.py pins 0.29.1), or
the environment variables GNARL_CLEANRL and GNARL_GYMNASIUM.  torch and numpy
come from the system's python3 (Debian: python3-torch).  CleanRL's optional
logging modules, tyro (command line) and tensorboard (SummaryWriter), are
replaced by small stand-ins when they are not installed: ppo.py runs as
written, its event file is simply not written (which only makes it faster).
Without torch, Gymnasium or CleanRL the script says which is missing and
exits 0 without measuring (SKIPPED on the first line); with GNARL_REQUIRE_CLEANRL=1
it exits 1 instead.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Run CleanRL's ppo.py as written, with stand-ins for the logging modules
# it imports when they are missing, on one torch thread.
RUNNER = r'''
import dataclasses, runpy, sys, types
import torch
torch.set_num_threads(1)
stubs = []
try:
    import tyro  # noqa: F401
except ImportError:
    def cli(cls):
        kw, args, i = {}, sys.argv[1:], 0
        fields = {f.name: f for f in dataclasses.fields(cls)}
        while i < len(args):
            a = args[i]
            if not a.startswith("--"):
                raise SystemExit("tyro stand-in: unexpected argument %r" % a)
            name, _, value = a[2:].partition("=")
            neg = name.startswith("no-") and name[3:].replace("-", "_") in fields
            key = (name[3:] if neg else name).replace("-", "_")
            if key not in fields:
                raise SystemExit("tyro stand-in: unknown option --%s" % name)
            kind = type(fields[key].default)
            if kind is bool and not value:
                kw[key] = not neg
            else:
                if not value:
                    i += 1
                    value = args[i]
                kw[key] = value.lower() in ("1", "true", "yes") if kind is bool else \
                    (kind(value) if kind in (int, float, str) else float(value))
            i += 1
        return cls(**kw)
    sys.modules["tyro"] = types.SimpleNamespace(cli=cli)
    stubs.append("tyro")
try:
    from torch.utils.tensorboard import SummaryWriter  # noqa: F401
except Exception:
    class SummaryWriter:
        def __init__(self, *a, **k):
            pass
        def __getattr__(self, name):
            return lambda *a, **k: None
    sys.modules["torch.utils.tensorboard"] = types.SimpleNamespace(SummaryWriter=SummaryWriter)
    stubs.append("tensorboard")
print("STUBS:", ",".join(stubs) or "none", flush=True)
path = sys.argv.pop(1)
sys.argv[0] = path
runpy.run_path(path, run_name="__main__")
'''


def fail(msg):
    sys.stderr.write("bench_cleanrl: %s\n" % msg)
    sys.exit(2)


def skip(why):
    print("SKIPPED: %s" % why)
    sys.exit(1 if os.environ.get("GNARL_REQUIRE_CLEANRL") == "1" else 0)


def find_ppo(path):
    if not path:
        return None
    for p in (path, os.path.join(path, "cleanrl", "ppo.py"), os.path.join(path, "ppo.py")):
        if os.path.isfile(p):
            return os.path.abspath(p)
    return None


def python_with_torch():
    for py in ("/usr/bin/python3", sys.executable):
        if py and os.path.exists(py) and subprocess.run(
                [py, "-c", "import torch, numpy"], capture_output=True).returncode == 0:
            return py
    return None


def gnarl_bench(gnarl, config, steps):
    args = [gnarl, "bench", "-c", config, "--json"]
    if steps:
        args += ["--steps", str(steps)]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        fail("%s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr[-2000:]))
    return json.loads(p.stdout)


def cleanrl_sps(py, ppo, gymnasium, steps, workdir):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(filter(None, [gymnasium, os.environ.get("PYTHONPATH")])))
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(RUNNER)
        runner = f.name
    try:
        p = subprocess.run([py, runner, ppo, "--total-timesteps", str(steps), "--seed", "1",
                            "--no-cuda"], capture_output=True, text=True, env=env, cwd=workdir)
    finally:
        os.unlink(runner)
    if p.returncode != 0:
        fail("CleanRL ppo.py failed (%d):\n%s" % (p.returncode, p.stderr[-3000:]))
    sps = re.findall(r"^SPS: (\d+)", p.stdout, re.M)
    stubs = re.search(r"^STUBS: (\S+)", p.stdout, re.M)
    if not sps:
        fail("CleanRL ppo.py printed no SPS line:\n%s" % p.stdout[-2000:])
    return int(sps[-1]), stubs.group(1) if stubs else "?"


def load():
    return os.getloadavg()[0]


def measure(a, py, ppo, busy):
    """Alternating rounds; returns the rows' medians."""
    hog = None
    if busy:
        hog = subprocess.Popen(["nice", "-n", "19", "yes"], stdout=subprocess.DEVNULL)
        time.sleep(1.0)
    try:
        cart, zelda, clean, stubs = [], [], [], "?"
        load0 = load()
        with tempfile.TemporaryDirectory() as work:
            for _ in range(a.rounds):
                cart.append(gnarl_bench(a.gnarl, os.path.join(ROOT, "configs", "cartpole.yaml"),
                                        a.steps))
                if ppo:
                    s, stubs = cleanrl_sps(py, ppo, a.gymnasium, a.cleanrl_steps, work)
                    clean.append(s)
                if a.zelda:
                    zelda.append(gnarl_bench(a.gnarl, os.path.join(ROOT, "configs", "env.yaml"),
                                             a.zelda_steps))
        load1 = load()
    finally:
        if hog:
            hog.terminate()
            hog.wait()
    return {"busy": busy, "load": [round(load0, 2), round(load1, 2)], "cartpole": summary(cart),
            "zelda": summary(zelda) if zelda else None,
            "cleanrl_sps": statistics.median(clean) if clean else None,
            "cleanrl_runs": clean, "cleanrl_stubs": stubs}


def summary(runs):
    med = lambda k: statistics.median(r[k] for r in runs)  # noqa: E731
    e2e, learner = med("end_to_end_sps"), med("learner_sps")
    bound, lbound = med("flop_bound_sps"), med("learner_bound_sps")
    return {"end_to_end_sps": e2e, "learner_sps": learner, "flop_bound_sps": bound,
            "learner_bound_sps": lbound, "bound_share": e2e / bound,
            "learner_bound_share": learner / lbound, "gflops": med("gflops"),
            "runs_end_to_end_sps": [round(r["end_to_end_sps"]) for r in runs],
            "thread_split": runs[0]["thread_split"]}


def show(m):
    print("%s (load average %.2f at the start, %.2f at the end)" %
          ("other core busy (nice -n 19 yes)" if m["busy"] else "no extra load",
           m["load"][0], m["load"][1]))
    rows = [("CartPole (64 x 64 tanh)", m["cartpole"])]
    if m["zelda"]:
        rows.append(("Zelda default (3 x 256 relu)", m["zelda"]))
    for name, s in rows:
        print("  %-30s end to end %10.0f steps/s (%3.0f%% of its FLOP bound %.0f), "
              "learner %10.0f samples/s (%3.0f%% of %.0f)" %
              (name, s["end_to_end_sps"], 100 * s["bound_share"], s["flop_bound_sps"],
               s["learner_sps"], 100 * s["learner_bound_share"], s["learner_bound_sps"]))
    if m["cleanrl_sps"]:
        c = m["cartpole"]["end_to_end_sps"]
        print("  %-30s end to end %10.0f steps/s (torch 1 thread; stand-ins: %s)" %
              ("CleanRL ppo.py, CartPole", m["cleanrl_sps"], m["cleanrl_stubs"]))
        print("  %-30s %.0fx CleanRL ppo.py" % ("gnarl CartPole", c / m["cleanrl_sps"]))
    print("  SB3: not measured (no Debian package of stable-baselines3)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cleanrl", default=os.environ.get("GNARL_CLEANRL"))
    ap.add_argument("--gymnasium", default=os.environ.get("GNARL_GYMNASIUM"))
    ap.add_argument("--gnarl", default=os.path.join(ROOT, "build", "gnarl"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=0, help="gnarl CartPole steps (default 500k)")
    ap.add_argument("--cleanrl-steps", type=int, default=100000)
    ap.add_argument("--zelda", action="store_true")
    ap.add_argument("--zelda-steps", type=int, default=409600)
    ap.add_argument("--busy", choices=("no", "yes", "both"), default="no")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not os.access(a.gnarl, os.X_OK):
        fail("no gnarl binary at %s (build it, or pass --gnarl)" % a.gnarl)
    py = python_with_torch()
    if not py:
        skip("no python3 with torch and numpy (Debian: apt-get install python3-torch)")
    ppo = find_ppo(a.cleanrl)
    if not ppo:
        skip("no CleanRL ppo.py (give a CleanRL checkout with --cleanrl or GNARL_CLEANRL)")
    if not a.gymnasium or not os.path.isdir(os.path.join(a.gymnasium, "gymnasium")):
        skip("no Gymnasium source (give the directory holding gymnasium/ with --gymnasium "
             "or GNARL_GYMNASIUM)")
    a.gymnasium = os.path.abspath(a.gymnasium)
    print("OPENBLAS_CORETYPE=%s, %d CPUs, %d rounds alternating, medians; gnarl %s, "
          "CleanRL %s (%d steps)" % (os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
                                     os.cpu_count(), a.rounds, a.gnarl, ppo, a.cleanrl_steps))
    results = []
    for busy in {"no": [False], "yes": [True], "both": [False, True]}[a.busy]:
        m = measure(a, py, ppo, busy)
        results.append(m)
        show(m)
    if a.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
