#!/usr/bin/python3
"""The exploration experiments of the README (section Exploration): one arm
of configs/overworld-hard.yaml trained with one seed, then evaluated with
`gnarl eval` (100 episodes from the normal start), or the table of every
arm evaluated so far.

    scripts/exploration.py run ARM SEED [--gnarl build/gnarl] [--work runs/exploration]
                           [--steps N] [--set KEY=VALUE]...
    scripts/exploration.py table [--work runs/exploration]
    scripts/exploration.py cost [--gnarl build/gnarl] [--steps 204800] [--repeats 3]

Arms:
  ppo      the config as it is
  archive  archive.enabled: true (the archive of start states)
  helpful  llm_text at its default probability and bonus, answered by the test
           LLM server (tests/llm/server.py) with the first button of a shortest
           walk to the next objective on the world's map (tests/llm/advisor.py)
  random   the same server answering a random direction
The run is <work>/<arm>-s<seed>; its log, `gnarl eval --json` and (archive)
`gnarl archive show --json` are written next to it as .log and .eval.json
files.  Long: run it under `nice -n 10` in the background.

cost: `gnarl bench` end to end on the hard world with the archive off and on,
alternating (machine load moves between runs), and the median steps/s of
each.
"""
import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "overworld-hard.yaml")
SERVER = os.path.join(ROOT, "tests", "llm", "server.py")
ARMS = ("ppo", "archive", "helpful", "random")
MILESTONES = ("sword", "maku_tree", "gnarled_key", "dungeon")


def start_server(work, name, mode, seed):
    """The test LLM server answering as the arm's advisor; (process, port)."""
    port_file = os.path.join(work, name + ".port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    default = {"kind": "advisor", "map": os.path.join(work, name, "world.json"), "mode": mode,
               "seed": seed}
    p = subprocess.Popen([sys.executable, SERVER, "--log", os.devnull, "--no-bodies",
                          "--port-file", port_file, "--default", json.dumps(default)],
                         stdout=subprocess.DEVNULL)
    end = time.time() + 30
    while not os.path.exists(port_file):
        if time.time() > end or p.poll() is not None:
            raise SystemExit("exploration: the test LLM server did not start")
        time.sleep(0.05)
    return p, int(open(port_file).read())


def run(args):
    name = "%s-s%d" % (args.arm, args.seed)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    sets = ["run.storage=" + work, "run.name=" + name, "run.seed=%d" % args.seed]
    if args.steps:
        sets.append("ppo.total_steps=%d" % args.steps)
    server = None
    if args.arm == "archive":
        sets.append("archive.enabled=true")
    elif args.arm in ("helpful", "random"):
        server, port = start_server(work, name, args.arm, args.seed)
        sets += ["env.params.export_map=true", "llm.0.plugin=llm_text",
                 "llm.0.params.endpoint=http://127.0.0.1:%d" % port]
    sets += args.set
    log = open(os.path.join(work, name + ".log"), "w")
    t0 = time.time()
    try:
        rc = subprocess.call([args.gnarl, "train", "-c", CONFIG] +
                             sum((["--set", s] for s in sets), []), stderr=log)
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            server.wait()
    wall = time.time() - t0
    if rc != 0:
        raise SystemExit("exploration: gnarl train exited %d (see %s)" % (rc, log.name))
    ev = subprocess.run([args.gnarl, "eval", "-c", CONFIG, "--restore",
                         os.path.join(work, name), "--episodes", "100", "--seed", "1000",
                         "--json"], capture_output=True, text=True, check=True)
    out = json.loads(ev.stdout)
    out["wall_seconds"] = wall
    out["arm"], out["seed"] = args.arm, args.seed
    with open(os.path.join(work, name + ".eval.json"), "w") as f:
        json.dump(out, f, indent=2)
    print(json.dumps({k: out[k] for k in ("arm", "seed", "milestones", "rooms_discovered_mean",
                                          "archive", "wall_seconds")}))


def last_row(work, name):
    with open(os.path.join(work, name, "progress.csv")) as f:
        rows = list(csv.DictReader(f))
    return rows[-1] if rows else {}


def table(args):
    work = os.path.abspath(args.work)
    print("| arm | seeds | steps | wall | sword | Maku reached | Gnarled Key | dungeon entered "
          "| rooms/episode | archive rooms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for arm in ARMS:
        evals = []
        for f in sorted(os.listdir(work)):
            if f.startswith(arm + "-s") and f.endswith(".eval.json"):
                evals.append(json.load(open(os.path.join(work, f))))
        if not evals:
            continue
        n = len(evals)
        rows = [last_row(work, "%s-s%d" % (arm, e["seed"])) for e in evals]
        steps = sorted({int(r.get("env_steps", 0)) for r in rows})
        rate = {m: [e["milestones"][m] for e in evals] for m in MILESTONES}
        cell = lambda v: "%.0f%%" % (100 * sum(v) / n) + (
            " (%s)" % ", ".join("%.0f" % (100 * x) for x in v) if n > 1 else "")
        rooms = [e["rooms_discovered_mean"] for e in evals]
        arch = [e["archive"]["rooms"] for e in evals if e.get("archive")]
        print("| %s | %d | %s | %s | %s | %s | %s | %s | %.1f | %s |" % (
            arm, n, "/".join("%.1fM" % (s / 1e6) for s in steps),
            "/".join("%.0f min" % (e["wall_seconds"] / 60) for e in evals),
            cell(rate["sword"]), cell(rate["maku_tree"]), cell(rate["gnarled_key"]),
            cell(rate["dungeon"]), sum(rooms) / n,
            "/".join(str(a) for a in arch) if arch else "-"))


def cost(args):
    sps = {"off": [], "on": []}
    for _ in range(args.repeats):
        for mode in ("off", "on"):
            p = subprocess.run([args.gnarl, "bench", "-c", CONFIG, "--steps", str(args.steps),
                                "--set", "archive.enabled=%s" % ("true" if mode == "on" else
                                                                "false"), "--json"],
                               capture_output=True, text=True, check=True)
            sps[mode].append(json.loads(p.stdout)["end_to_end_sps"])
            print("archive %-3s %.0f steps/s" % (mode, sps[mode][-1]), flush=True)
    med = {m: sorted(v)[len(v) // 2] for m, v in sps.items()}
    print("median: off %.0f, on %.0f steps/s: %.1f%%" % (med["off"], med["on"],
                                                          100 * med["on"] / med["off"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("arm", choices=ARMS)
    r.add_argument("seed", type=int)
    r.add_argument("--gnarl", default=os.path.join(ROOT, "build", "gnarl"))
    r.add_argument("--work", default=os.path.join(ROOT, "runs", "exploration"))
    r.add_argument("--steps", type=int, default=0)
    r.add_argument("--set", action="append", default=[])
    t = sub.add_parser("table")
    t.add_argument("--work", default=os.path.join(ROOT, "runs", "exploration"))
    c = sub.add_parser("cost")
    c.add_argument("--gnarl", default=os.path.join(ROOT, "build", "gnarl"))
    c.add_argument("--steps", type=int, default=204800)
    c.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    {"run": run, "table": table, "cost": cost}[args.cmd](args)


if __name__ == "__main__":
    main()
