#!/usr/bin/python3
"""What LLM guidance costs a real training run: `gnarl train` on a config
(the overworld of configs/env.yaml by default) with both LLM plugins at the
reference probabilities (llm_vision 0.03, llm_text 0.02) asking the test
server (tests/llm/server.py), which answers after 500 ms, against the same
run with LLM off.  Runs alternate (off, on, on, off, off, on, ...) so that
load from other processes falls on both alike; the steps/s of a run is its
last progress.csv row's `sps` (steps over wall time since the start).
Prints every run, the medians, their ratio, the median of the pairs'
ratios, the CPU seconds gnarl used per million steps (user + system, all
its threads: less sensitive than wall time to other processes on the
machine) and what the test server used, and the LLM-on runs' suggestion
statistics.  A benchmark: it prints numbers and asserts nothing.

Usage: bench_train.py GNARL [--config FILE] [--steps N] [--pairs K]
                      [--delay-ms MS] [--work DIR] [--server-nice N]
                      [--set KEY=VALUE]...
--server-nice runs the test server at that nice value (a real LLM server is
another machine; on a 2-core box the test server competes with training).
"""
import argparse
import csv
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STATS = ["calls", "successes", "failures", "parse_failures", "timeouts", "http_errors",
         "busy", "latency_p50_ms", "latency_p95_ms", "draws", "requests", "refused",
         "cache_hits", "suggestions", "failed", "stale", "alignment_hits"]


def start_server(work, delay_ms, nice):
    port_file = os.path.join(work, "port")
    cmd = [sys.executable, os.path.join(HERE, "server.py"), "--log", os.path.join(work, "req.jsonl"),
           "--port-file", port_file, "--no-bodies", "--default",
           '{"kind": "action", "action": "RIGHT", "delay_ms": %d}' % delay_ms]
    if nice:
        cmd = ["nice", "-n", str(nice)] + cmd
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    for _ in range(2000):
        if os.path.exists(port_file):
            with open(port_file) as f:
                return proc, int(f.read())
        time.sleep(0.01)
    proc.kill()
    raise SystemExit("the test server did not start")


def run(gnarl, config, work, name, steps, llm, sets):
    args = [gnarl, "train", "-c", config, "--set", "run.storage=" + work,
            "--set", "run.name=" + name, "--set", "ppo.total_steps=%d" % steps]
    for s in sets:
        args += ["--set", s]
    if llm:
        args += ["--set", llm]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(args, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit("gnarl train failed:\n" + p.stderr[-3000:])
    with open(os.path.join(work, name, "progress.csv")) as f:
        last = list(csv.DictReader(f))[-1]
    shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return last, cpu * 1e6 / float(last["env_steps"])


def cpu_seconds(pid):
    """User + system seconds process pid has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("gnarl")
    ap.add_argument("--config", default=os.path.join(HERE, "..", "..", "configs", "env.yaml"))
    ap.add_argument("--steps", type=int, default=200000)
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--delay-ms", type=int, default=500)
    ap.add_argument("--server-nice", type=int, default=0)
    ap.add_argument("--work")
    ap.add_argument("--set", action="append", default=[], help="passed to gnarl train")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="gnarl-bench-train-")
    os.makedirs(work, exist_ok=True)
    server, port = start_server(work, a.delay_ms, a.server_nice)
    url = "http://127.0.0.1:%d" % port
    llm = ("llm=[{plugin: llm_vision, probability: 0.03, params: {endpoint: \"%s\"}}, "
           "{plugin: llm_text, probability: 0.02, params: {endpoint: \"%s\"}}]" % (url, url))
    sps = {False: [], True: []}
    cpu = {False: [], True: []}
    finals = []
    server_cpu = 0.0
    try:
        for i in range(a.pairs):
            for on in ((False, True) if i % 2 == 0 else (True, False)):
                s0 = cpu_seconds(server.pid)
                last, c = run(a.gnarl, a.config, work, "r%d%s" % (i, "on" if on else "off"),
                              a.steps, llm if on else None, a.set)
                if on:
                    server_cpu += cpu_seconds(server.pid) - s0
                    finals.append(last)
                sps[on].append(float(last["sps"]))
                cpu[on].append(c)
                print("pair %d LLM %-3s %8.0f steps/s, %6.1f CPU s per 1M steps"
                      % (i, "on" if on else "off", sps[on][-1], c), flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    off, on = statistics.median(sps[False]), statistics.median(sps[True])
    ratios = [y / x for x, y in zip(sps[False], sps[True])]
    print("median steps/s: LLM off %.0f, LLM on %.0f: on/off = %.3f; median of the pairs' "
          "ratios %.3f (%d runs each of %d steps)"
          % (off, on, on / off, statistics.median(ratios), a.pairs, a.steps))
    print("gnarl CPU s per 1M steps (median): LLM off %.1f, LLM on %.1f (%+.1f%%); the test "
          "server used %.1f CPU s per 1M LLM-on steps"
          % (statistics.median(cpu[False]), statistics.median(cpu[True]),
             100 * (statistics.median(cpu[True]) / statistics.median(cpu[False]) - 1),
             server_cpu * 1e6 / (a.pairs * a.steps)))
    for src in ("llm_vision", "llm_text"):
        cells = []
        for s in STATS:
            vals = [float(r.get("%s/%s" % (src, s)) or "nan") for r in finals]
            cells.append("%s %.0f" % (s, statistics.median(vals)))
        print("%s (median of the on runs' totals): %s" % (src, ", ".join(cells)))
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
