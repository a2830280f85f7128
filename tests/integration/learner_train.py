#!/usr/bin/python3
"""Integration tests of `gnarl train` and `gnarl bench` on configs/cartpole.yaml.

Usage: learner_train.py MODE GNARL CONFIG WORKDIR
  learns       100k steps: the mean return of the last 100 episodes rises from
               a random policy's (~22) to at least 150; the run directory has
               config.yaml and progress.csv with the issue's columns, and every
               CSV value is in the TensorBoard event file (decoded by
               formats_tfevents.py, independent of gnarl's C)
  solves       seeds 1-3 of configs/cartpole.yaml (CleanRL's settings, 500k steps)
               each reach ep_return_mean >= 475 (the README's table)
  determinism  same seed twice, then with env.threads 2 and ppo.blas_threads 1
               and 2: identical progress.csv apart from timing columns (sps and
               the summaries/* gauges of the episode-summary writer)
  signal       SIGINT during a long run: the iteration finishes, exit code 0,
               progress.csv is synced
  bench        `gnarl bench --json` prints one object of finite, positive numbers,
               end to end no faster than env or learner alone or the FLOP bound,
               every product of CartPole's networks with its kernel and speed,
               and phase shares that add up to the wall time
"""
import csv
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import formats_tfevents  # noqa: E402  (the independent event-file reader)

COLUMNS = ["iteration", "env_steps", "sps", "ep_return_mean", "ep_len_mean", "episodes",
           "policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac",
           "explained_variance", "lr"]


def train(gnarl, config, work, name, *sets, check=True):
    args = [gnarl, "train", "-c", config, "--set", "run.storage=" + work,
            "--set", "run.name=" + name]
    for s in sets:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit("gnarl train failed (%d):\n%s" % (p.returncode, p.stderr[-3000:]))
    return p


def rows(work, name):
    with open(os.path.join(work, name, "progress.csv")) as f:
        return list(csv.DictReader(f))


def check_events(work, name, table):
    run = os.path.join(work, name)
    files = [f for f in os.listdir(run) if f.startswith("events.out.tfevents.")]
    if len(files) != 1:
        raise SystemExit("expected one event file in %s, found %r" % (run, files))
    blob = open(os.path.join(run, files[0]), "rb").read()
    Event = formats_tfevents.event_class()
    seen = {}
    first = True
    for data in formats_tfevents.records(blob):
        ev = Event()
        ev.ParseFromString(data)
        if first:
            if ev.file_version != "brain.Event:2":
                raise SystemExit("first event is not brain.Event:2")
            first = False
            continue
        for v in ev.summary.value:
            seen[(v.tag, ev.step)] = v.simple_value
    import numpy as np
    checked = 0
    for r in table:
        step = int(r["env_steps"])
        for tag, text in r.items():
            if tag in ("iteration", "env_steps") or text == "":
                continue
            got = seen.get((tag, step))
            want = float(np.float32(float(text)))
            if got is None or not (got == want or (want != want and got != got)):
                raise SystemExit("event %s at step %d: %r, CSV says %r" % (tag, step, got, text))
            checked += 1
    return checked


def summaries(work, name):
    """Episode summaries (JSON lines): every episode once, returns 1 per step."""
    d = os.path.join(work, name, "workers", "worker_0")
    seen = set()
    for f in sorted(os.listdir(d)):
        for line in open(os.path.join(d, f)):
            e = json.loads(line)
            key = (e["env"], e["episode"])
            if key in seen:
                raise SystemExit("episode %r summarised twice" % (key,))
            seen.add(key)
            if e["return"] != e["length"] or e["has_state"]:
                raise SystemExit("cartpole episode summary %r" % e)
    return len(seen)


def learns(gnarl, config, work):
    train(gnarl, config, work, "learns", "ppo.total_steps=100000")
    table = rows(work, "learns")
    missing = [c for c in COLUMNS if c not in table[0]]
    if missing:
        raise SystemExit("progress.csv lacks columns %r" % missing)
    first, last = float(table[0]["ep_return_mean"]), float(table[-1]["ep_return_mean"])
    if len(table) != 100000 // 512 or int(table[-1]["env_steps"]) != len(table) * 512:
        raise SystemExit("%d rows ending at %s env steps" % (len(table), table[-1]["env_steps"]))
    if not (first < 50 and last >= 150):
        raise SystemExit("return did not improve enough: %.1f -> %.1f" % (first, last))
    cfg = open(os.path.join(work, "learns", "config.yaml")).read()
    for needle in ("plugin: cartpole", "name: learns", "total_steps: 100000"):
        if needle not in cfg:
            raise SystemExit("config.yaml lacks %r:\n%s" % (needle, cfg))
    n = check_events(work, "learns", table)
    episodes = summaries(work, "learns")
    if episodes != int(table[-1]["episodes"]):
        raise SystemExit("%d episode summaries, progress.csv counts %s"
                         % (episodes, table[-1]["episodes"]))
    print("learns: ep_return_mean %.1f -> %.1f over %d iterations; %d event scalars match; "
          "%d episode summaries" % (first, last, len(table), n, episodes))


def determinism(gnarl, config, work):
    variants = [("a", []), ("b", []), ("threads", ["env.threads=2", "ppo.blas_threads=1"]),
                ("split", ["env.threads=3", "ppo.blas_threads=2"])]
    tables = {}
    for name, sets in variants:
        train(gnarl, config, work, name, "run.seed=3", "ppo.total_steps=20000", *sets)
        tables[name] = [{k: v for k, v in r.items()
                         if k != "sps" and not k.startswith("summaries/")}
                        for r in rows(work, name)]
    for name in tables:
        if tables[name] != tables["a"]:
            for i, (x, y) in enumerate(zip(tables["a"], tables[name])):
                if x != y:
                    raise SystemExit("run %s differs from run a at row %d:\n%r\n%r"
                                     % (name, i, x, y))
            raise SystemExit("run %s has %d rows, run a %d" % (name, len(tables[name]),
                                                               len(tables["a"])))
    print("determinism: %d identical rows in %d runs" % (len(tables["a"]), len(tables)))


def interrupted(gnarl, config, work):
    args = [gnarl, "train", "-c", config, "--set", "run.storage=" + work,
            "--set", "run.name=signal", "--set", "ppo.total_steps=1000000000",
            "--set", "log.every_seconds=0"]
    p = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    lines = 0
    for line in p.stderr:
        if line.startswith("iter "):
            lines += 1
            if lines == 5:
                p.send_signal(signal.SIGINT)
                break
    rest = p.stderr.read()
    code = p.wait(timeout=60)
    if code != 0:
        raise SystemExit("exit code %d after SIGINT:\n%s" % (code, rest[-2000:]))
    if "stopped by a signal" not in rest:
        raise SystemExit("no 'stopped by a signal' line:\n%s" % rest[-2000:])
    table = rows(work, "signal")
    if len(table) < 5:
        raise SystemExit("progress.csv has %d rows after the signal" % len(table))
    print("signal: stopped cleanly after %d iterations" % len(table))


def solves(gnarl, config, work):
    """The README's headline: CleanRL's CartPole-v1 settings reach a mean
    return >= 475 (of 500) within 500k steps on each of seeds 1-3."""
    firsts = []
    for seed in (1, 2, 3):
        name = "seed%d" % seed
        train(gnarl, config, work, name, "run.seed=%d" % seed, "metrics.episodes=false",
              "metrics.tensorboard=false")
        table = rows(work, name)
        if int(table[-1]["env_steps"]) > 500000:
            raise SystemExit("seed %d ran %s steps" % (seed, table[-1]["env_steps"]))
        hit = [int(r["env_steps"]) for r in table if float(r["ep_return_mean"]) >= 475]
        if not hit:
            raise SystemExit("seed %d: ep_return_mean never reached 475 in %s steps (best %.1f)"
                             % (seed, table[-1]["env_steps"],
                                max(float(r["ep_return_mean"]) for r in table)))
        firsts.append(hit[0])
    print("solves: ep_return_mean >= 475 first at %s steps (seeds 1-3)"
          % ", ".join("%d" % f for f in firsts))


def bench(gnarl, config, work):
    p = subprocess.run([gnarl, "bench", "-c", config, "--steps", "20000", "--json"],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("gnarl bench failed (%d): %s" % (p.returncode, p.stderr))
    j = json.loads(p.stdout)
    for k in ("env_sps", "learner_sps", "end_to_end_sps", "flops_per_step", "gflops",
              "flop_bound_sps", "sgemm_peak_gflops", "flop_bound_sps_1thread", "learner_bound_sps"):
        if not (isinstance(j.get(k), (int, float)) and math.isfinite(j[k]) and j[k] > 0):
            raise SystemExit("bench: %s = %r" % (k, j.get(k)))
    # Consistent: the whole loop is no faster than either of its parts alone,
    # nor than the FLOP bound; the rollout is a share of it.  The parts are
    # measured at other moments, on a machine others share: under a load of
    # 30 the end to end came out at 1.3x the learner alone, and at 2.1x with
    # a training run and the suite on the 2 cores, so a factor 5 of slack (a
    # loop that skipped the learner would be ~25x faster).
    parts = min(j["env_sps"], j["learner_sps"], j["flop_bound_sps"])
    if j["end_to_end_sps"] > 5 * parts or not 0 < j["rollout_share"] < 1 or \
            j["steps"] < 20000 or not math.isfinite(j["final_return_mean"]):
        raise SystemExit("bench: inconsistent figures: %s" % json.dumps(j))
    # Per minibatch: 3 layers x (forward, weight grad) + 2 input grads, for
    # actor and critic; acting: the actor's 3 forwards; values: the
    # critic's 3 in chunks and 3 on next_obs.
    products = j["products"]
    if len(products) != 2 * 8 + 3 + 6:
        raise SystemExit("bench: %d products: %r" % (len(products), products))
    for p in products:
        if not (p["kernel"] == "openblas" or p["kernel"].startswith("tiled-")) or \
                not p["tiled_gflops"] > 0 or not p["openblas_gflops"] > 0 or p["calls"] < 1:
            raise SystemExit("bench: product %r" % p)
    # The 128 x 64 x 64 update products run 16 times an iteration.
    if sorted(p["calls"] for p in products if p["B"] == 128 and p["in"] == 64
              and p["out"] == 64 and p["phase"] == "update") != [16] * 6:
        raise SystemExit("bench: update products %r" % products)
    for th in ("thread0", "thread1"):
        shares = j["phases"][th]
        if abs(sum(shares.values()) - 1.0) > 1e-6 or min(shares.values()) < -0.02:
            raise SystemExit("bench: %s phase shares %r" % (th, shares))
    if not j["phases"]["thread0"]["forward"] > 0.05:
        raise SystemExit("bench: thread 0 phases %r" % j["phases"]["thread0"])
    # CleanRL's network with the advice block (7 inputs): 18560 FLOP forward,
    # 35328 backward, 4 epochs.
    if j["flops_per_step"] != 18560 + 4 * (18560 + 35328):
        raise SystemExit("bench: flops_per_step %r" % j["flops_per_step"])
    print("bench: %s" % json.dumps(j))


def main():
    mode, gnarl, config, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    {"learns": learns, "solves": solves, "determinism": determinism, "signal": interrupted,
     "bench": bench}[mode](gnarl, config, work)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
