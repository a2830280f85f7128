#!/usr/bin/python3
"""What an S3 outage costs a training run: CartPole saving a checkpoint every
50 iterations into the test fixture's gateway, which is stopped for DOWN
seconds mid-run and started again.  Prints iterations per second and the
longest gap between two iterations before, during and after the outage, and
how many saves failed or were skipped.  A program that prints numbers, run
by hand (not a test):

    tests/s3/start.sh /tmp/s3                 # the fixture (stop.sh afterwards)
    tests/s3/outage_bench.py build/gnarl /tmp/s3 [DOWN]

GNARL_PLUGIN_PATH defaults to the plugins next to GNARL.  Metrics are
uploaded only with checkpoints (metrics.upload_every null), so the numbers
are those of the checkpoint path.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))


def main():
    gnarl, fixture = sys.argv[1:3]
    down = float(sys.argv[3]) if len(sys.argv) > 3 else 15.0
    s3 = dict(l.strip().split("=", 1) for l in open(os.path.join(fixture, "s3.env"))
              if "=" in l)
    work = tempfile.mkdtemp(prefix="gnarl-outage-")
    config = os.path.join(work, "cartpole-s3.yaml")
    with open(config, "w") as f:
        f.write(open(os.path.join(SRC, "configs", "cartpole.yaml")).read())
        f.write("\nstorage:\n  s3:\n    endpoint: ${S3_ENDPOINT_URL}\n"
                "    access_key: ${S3_ACCESS_KEY_ID}\n"
                "    secret_key: ${S3_SECRET_ACCESS_KEY}\n    create_bucket: true\n")
    env = dict(os.environ, **s3)
    env.setdefault("GNARL_PLUGIN_PATH",
                   os.path.join(os.path.dirname(os.path.abspath(gnarl)), "plugins"))
    name = "outage-%d" % os.getpid()
    p = subprocess.Popen([gnarl, "train", "-c", config, "--set", "run.storage=s3://gnarl-outage/runs",
                          "--set", "run.name=" + name, "--set", "ppo.total_steps=1000000000",
                          "--set", "checkpoint.every=50", "--set", "ppo.blas_threads=1",
                          "--set", "metrics.episodes=false", "--set", "metrics.upload_every=null",
                          "--set", "log.every_seconds=0"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines = []

    def read():
        for line in p.stderr:
            lines.append((time.time(), line.rstrip()))

    threading.Thread(target=read, daemon=True).start()
    gateway = os.path.join(HERE, "gateway.sh")
    t0 = time.time()
    time.sleep(5)
    t1 = time.time()
    subprocess.run([gateway, "stop", fixture], check=True)
    time.sleep(down)
    subprocess.run([gateway, "start", fixture], check=True)
    t2 = time.time()
    time.sleep(5)
    p.send_signal(signal.SIGINT)
    p.wait(timeout=300)
    time.sleep(0.5)

    def window(a, b):
        its = [t for t, l in lines if l.startswith("iter ") and a <= t < b]
        gaps = [y - x for x, y in zip(its, its[1:])]
        return len(its) / (b - a), 1e3 * max(gaps) if gaps else float("nan")

    for label, a, b in (("store up", t0 + 1, t1), ("store down", t1, t2),
                        ("store back", t2 + 1, t2 + 5)):
        rate, gap = window(a, b)
        print("%-10s %6.0f iterations/s, longest gap between two %6.0f ms" % (label, rate, gap))
    skipped = [re.search(r"and (\d+) checkpoint\(s\) skipped", l) for _, l in lines]
    print("failed saves %d, skipped %s, exit %d" % (
        sum("NOT saved" in l for _, l in lines),
        sum(int(m.group(1)) for m in skipped if m), p.returncode))


if __name__ == "__main__":
    main()
