#!/usr/bin/python3
"""A run whose local storage fails under it: a real tmpfs mounted as
run.storage (in a mount namespace of its own: the script runs itself again
under `unshare --mount`, so nothing outlives the test), filled up or remounted read-only
while `gnarl train` runs.

Usage: faults_disk.py MODE GNARL CONFIG WORKDIR   (needs root, to mount)
  full_disk  a 6 MiB tmpfs: two checkpoints fit, then every save fails with
             ENOSPC; training goes on, each failure is logged with the
             newest saved checkpoint, memory does not grow with the failures;
             the tmpfs grown to 64 MiB, saving works again; SIGTERM saves the
             last one and exits 0; every checkpoint saved verifies, latest
             names the last, progress.csv has every iteration
  read_only  a read-only run directory stops `gnarl train` before its first
             iteration (exit 1, a message naming the directory); remounted
             read-only mid-run, saves fail and training goes on; read-write
             again, saving works again; SIGTERM: exit 0, everything verifies
"""
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cannot_run import cannot_run  # noqa: E402
from s3_e2e_test import SANITIZER, Background, iterations  # noqa: E402

SETS = ["env.num_envs=8", "ppo.rollout_steps=128", "checkpoint.every=2",
        "checkpoint.keep_last=1000", "ppo.total_steps=1000000000", "ppo.blas_threads=1"]


def fail(msg, out=""):
    raise SystemExit("FAIL: " + msg + ("\n--- output ---\n" + out[-6000:] if out else ""))


class Ctx:
    """Enough of s3_e2e_test's Ctx for its Background runner: gnarl, the
    config, a work directory, the environment."""

    def __init__(self, gnarl, config, work):
        self.gnarl, self.config, self.work = gnarl, config, work

    def env(self):
        return dict(os.environ)


def mount(path, *opts):
    subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(opts), "tmpfs", path], check=True)


def remount(path, *opts):
    subprocess.run(["mount", "-o", ",".join(("remount",) + opts), path], check=True)


def rss_mb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0


def check_run(ctx, run_dir, log):
    """Every checkpoint logged saved is whole, latest names the last one,
    progress.csv has a row per iteration."""
    its = iterations(log)
    if its != list(range(1, len(its) + 1)) or SANITIZER.search(log):
        fail("iterations %r..." % its[:5], log)
    saved = [int(x) for x in re.findall(r"saved \S+/checkpoint_(\d{6}) \(", log)]
    for it in saved:
        p = subprocess.run([ctx.gnarl, "checkpoints", "show", "-c", ctx.config,
                            os.path.join(run_dir, "checkpoints", "checkpoint_%06d" % it)],
                           capture_output=True, text=True)
        if p.returncode != 0 or "verified" not in p.stdout:
            fail("checkpoint %d does not verify" % it, p.stdout + p.stderr)
    latest = open(os.path.join(run_dir, "checkpoints", "latest")).read().strip()
    if latest != "checkpoint_%06d" % its[-1] or saved[-1] != its[-1]:
        fail("latest is %s, the run ended at iteration %d" % (latest, its[-1]), log)
    rows = open(os.path.join(run_dir, "progress.csv")).read().splitlines()[1:]
    if [int(r.split(",")[0]) for r in rows] != its:
        fail("progress.csv has %d rows for %d iterations" % (len(rows), len(its)), log)
    return saved


def full_disk(ctx):
    disk = os.path.join(ctx.work, "disk")
    os.makedirs(disk)
    mount(disk, "size=6m")
    b = Background(ctx, ["run.storage=" + disk, "run.name=f"] + SETS, ctx.work)
    try:
        first = b.wait_for("NOT saved (1 in a row)")
        b.wait_for("NOT saved (2 in a row)", first)
        at_two = rss_mb(b.p.pid)
        b.wait_for("NOT saved (8 in a row)", first)
        at_eight = rss_mb(b.p.pid)
        remount(disk, "size=64m")
        back = b.wait_for("saving works again after", first)
        b.wait_for("saved %s/f/checkpoints/checkpoint_" % disk, back + 1)
        code = b.kill(signal.SIGTERM)
    finally:
        if b.p.poll() is None:
            b.kill()
    log = b.text()
    if code != 0:
        fail("exit %d after the disk was grown" % code, log)
    if "No space left on device" not in log or not re.search(
            r"NOT saved \(1 in a row\); training goes on and the next checkpoint tries again; "
            r"the newest saved one is \S+/checkpoint_0000\d\d", log):
        fail("the full disk is not reported clearly", log)
    # Six failures later the process holds no more memory (a leak per failed
    # save of a 2.6 MB checkpoint would show as ~16 MB).
    if at_eight > at_two + 8:
        fail("RSS grew from %.0f MB to %.0f MB over six failed saves" % (at_two, at_eight))
    saved = check_run(ctx, os.path.join(disk, "f"), log)
    print("full_disk: saves failed with ENOSPC 8+ times while training went on (RSS %.0f -> "
          "%.0f MB); grown, saving resumed; %d checkpoints verify, latest is the last"
          % (at_two, at_eight, len(saved)))


def read_only(ctx):
    disk = os.path.join(ctx.work, "disk")
    os.makedirs(disk)
    mount(disk, "size=64m", "ro")
    p = subprocess.run([ctx.gnarl, "train", "-c", ctx.config, "--set", "run.storage=" + disk,
                        "--set", "run.name=r"] + sum((["--set", s] for s in SETS), []),
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 1 or "Read-only file system" not in p.stderr or disk not in p.stderr \
            or iterations(p.stderr) or SANITIZER.search(p.stderr):
        fail("a read-only run directory (exit %d)" % p.returncode, p.stderr)
    remount(disk, "rw")
    b = Background(ctx, ["run.storage=" + disk, "run.name=r"] + SETS, ctx.work)
    try:
        start = b.wait_for("saved %s/r/checkpoints/checkpoint_" % disk)
        remount(disk, "ro")
        first = b.wait_for("NOT saved (1 in a row)", start)
        b.wait_for("NOT saved (3 in a row)", first)
        remount(disk, "rw")
        back = b.wait_for("saving works again after", first)
        b.wait_for("saved %s/r/checkpoints/checkpoint_" % disk, back + 1)
        code = b.kill(signal.SIGTERM)
    finally:
        if b.p.poll() is None:
            b.kill()
    log = b.text()
    if code != 0 or "Read-only file system" not in log:
        fail("a run directory turned read-only mid-run (exit %d)" % code, log)
    saved = check_run(ctx, os.path.join(disk, "r"), log)
    print("read_only: refused at start (exit 1, named); mid-run the saves failed while "
          "training went on, then resumed; %d checkpoints verify" % len(saved))


def main():
    mode, gnarl, config, work = sys.argv[1:5]
    if os.geteuid() != 0:
        cannot_run("mounting a tmpfs needs root")
    if not os.environ.get("GNARL_FAULTS_NS"):
        # Again in a mount namespace of its own: the tmpfs goes with it.
        os.environ["GNARL_FAULTS_NS"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private",
                              sys.executable] + sys.argv)
    subprocess.run(["umount", "-l", os.path.join(work, "disk")], stderr=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", work])
    os.makedirs(work)
    ctx = Ctx(os.path.abspath(gnarl), os.path.abspath(config), os.path.abspath(work))
    {"full_disk": full_disk, "read_only": read_only}[mode](ctx)
    subprocess.run(["umount", os.path.join(work, "disk")])
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
