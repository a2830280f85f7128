#!/usr/bin/python3
"""Data-parallel training under a real mpirun (Open MPI on loopback), on CartPole.

Usage: mpi_test.py MODE GNARL SOURCE_DIR WORKDIR MPIRUN HAVE_MPI
Exits 77 (skipped) when MPIRUN is empty or HAVE_MPI is not 1.

  ranks        mpirun -n 2, each rank in its own working directory with the
               relative run.storage `runs` (as on two machines without a
               shared disk): rank 0's directory has config.yaml, progress.csv,
               the event file, checkpoints and workers/worker_0; rank 1's has
               workers/worker_1 and nothing else.  Both ranks log the same
               weights hash after the last iteration; env_steps grow by both
               ranks' steps; `episodes` is both workers' summary count and
               ep_return_mean the mean of both ranks' last 100 episodes (read
               back from the summaries); the ranks played different episodes;
               the return rises from a random policy's (< 50) to >= 150.
  determinism  mpirun -n 2 twice with one seed, and once with actor and critic
               on two threads: identical progress.csv (timing columns aside)
               and weights hashes; another seed gives other weights
  one_rank     mpirun -n 1 equals a plain `gnarl train`: progress.csv (timing
               aside) and the checkpoint's model.safetensors byte for byte
  resume       a 2-rank checkpoint resumed by plain `gnarl train` and by
               mpirun -n 1 (the same run, byte for byte, going on at the next
               iteration with the saved env steps and episode count), and a
               plain checkpoint resumed by mpirun -n 2 (hashes equal)
  signal       SIGUSR1 to mpirun (it forwards it), and SIGTERM to rank 1 alone:
               exit 0, both ranks stop after the same iteration, and rank 0
               saves that iteration's checkpoint
  failure      a setup error on rank 1 only (a missing checkpoint), and a config
               that differs on rank 1: both ranks exit promptly, rank 1 saying
               why and rank 0 that another rank failed, and no run directory
               is made
"""
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

QUIET = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "OMPI_MCA_btl": "self,vader",
    "OMPI_MCA_oob_tcp_if_include": "lo",
    "HWLOC_COMPONENTS": "-gl",
    # Components stay loaded until exit, so leak reports name them.
    "OMPI_MCA_mca_base_component_disable_dlclose": "1",
}
TIMING = ("sps", "allreduce_ms")
HASH = re.compile(r"rank (\d+) of (\d+): learner fnv1a64 ([0-9a-f]{16}) \(weights, normalisers\) "
                  r"after iteration (\d+)")
# Never wait forever for a job that hangs (the bug a test must catch).
HANG = 240


def fail(msg):
    raise SystemExit(msg)


class Ctx:
    def __init__(self, gnarl, source, work, mpirun):
        self.gnarl, self.work, self.mpirun = gnarl, work, mpirun
        self.config = os.path.join(source, "configs", "cartpole.yaml")
        self.env = dict(os.environ, **QUIET)

    def args(self, name, *sets, storage=None):
        a = [self.gnarl, "train", "-c", self.config,
             "--set", "run.storage=" + (storage or self.work), "--set", "run.name=" + name,
             "--set", "ppo.blas_threads=1", "--set", "log.every_seconds=0"]
        for s in sets:
            a += ["--set", s]
        return a

    def run(self, cmd, check=True, cwd=None):
        p = subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=cwd,
                           timeout=HANG)
        if check and p.returncode != 0:
            fail("%s failed (%d):\n%s" % (" ".join(cmd[:4]), p.returncode, p.stderr[-3000:]))
        return p

    def mpi(self, n, name, *sets, check=True):
        return self.run([self.mpirun, "-n", str(n)] + self.args(name, *sets), check=check)

    def plain(self, name, *sets):
        return self.run(self.args(name, *sets))


def rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv")) as f:
        return list(csv.DictReader(f))


def stable(table):
    """progress.csv without the columns that measure time."""
    return [{k: v for k, v in r.items() if k not in TIMING and not k.startswith("summaries/")}
            for r in table]


def hashes(log, ranks):
    """{rank: (hash, iteration)} from the ranks' last log lines; all ranks present."""
    got = {int(m.group(1)): (m.group(3), int(m.group(4))) for m in HASH.finditer(log)}
    if sorted(got) != list(range(ranks)):
        fail("expected weights hashes of ranks 0..%d, got %r:\n%s" % (ranks - 1, got, log[-3000:]))
    if len(set(got.values())) != 1:
        fail("the ranks' weights differ: %r" % got)
    return got[0]


def episodes_of(worker_dir, rank):
    """The worker's summaries in push order (seq), each once, all of `rank`."""
    out = []
    for f in sorted(os.listdir(worker_dir)):
        for line in open(os.path.join(worker_dir, f)):
            out.append(json.loads(line))
    out.sort(key=lambda e: e["seq"])
    if [e["seq"] for e in out] != list(range(len(out))):
        fail("%s: summaries are not seq 0..%d" % (worker_dir, len(out) - 1))
    for e in out:
        if e["rank"] != rank or e["return"] != e["length"]:
            fail("%s: unexpected summary %r" % (worker_dir, e))
    return out


def files_under(d):
    return sorted(os.path.relpath(os.path.join(r, f), d)
                  for r, _, fs in os.walk(d) for f in fs)


def ranks(c):
    """Two ranks in two working directories, relative run.storage."""
    dirs = [os.path.join(c.work, "rank%d" % r) for r in range(2)]
    for d in dirs:
        os.makedirs(d)
    base = c.args("r", "ppo.total_steps=122880", storage="runs")
    cmd = [c.mpirun, "-n", "1", "-wdir", dirs[0]] + base + [":", "-n", "1", "-wdir", dirs[1]] + base
    p = c.run(cmd)
    h, it = hashes(p.stderr, 2)
    run0, run1 = (os.path.join(d, "runs", "r") for d in dirs)
    f0, f1 = files_under(run0), files_under(run1)
    for want in ("config.yaml", "progress.csv", "checkpoints/latest"):
        if want not in f0:
            fail("rank 0's run directory lacks %s: %r" % (want, f0))
    if not any(f.startswith("events.out.tfevents.") for f in f0) or \
            not any(f.startswith("checkpoints/checkpoint_") for f in f0):
        fail("rank 0's run directory lacks events or a checkpoint: %r" % f0)
    if any(f.startswith("workers/") and not f.startswith("workers/worker_0/") for f in f0):
        fail("rank 0's directory has another worker's files: %r" % f0)
    if not f1 or any(not f.startswith("workers/worker_1/episodes_") for f in f1):
        fail("rank 1 wrote more than its episode summaries: %r" % f1)
    table = rows(run0)
    n = len(table)
    if n != 122880 // 1024 or it != n or [int(r["env_steps"]) for r in table] != \
            [1024 * (i + 1) for i in range(n)]:
        fail("%d rows (hash after iteration %d), env_steps %r" % (n, it, table[-1]["env_steps"]))
    e0 = episodes_of(os.path.join(run0, "workers", "worker_0"), 0)
    e1 = episodes_of(os.path.join(run1, "workers", "worker_1"), 1)
    if len(e0) + len(e1) != int(table[-1]["episodes"]):
        fail("%d + %d summaries, progress.csv counts %s episodes"
             % (len(e0), len(e1), table[-1]["episodes"]))
    window = [e["return"] for e in e0[-100:]] + [e["return"] for e in e1[-100:]]
    mean = sum(window) / len(window)
    got = float(table[-1]["ep_return_mean"])
    if abs(got - mean) > 1e-9 * max(1.0, abs(mean)):
        fail("ep_return_mean %r, both ranks' last 100 episodes average %r" % (got, mean))
    if [e["return"] for e in e0[:20]] == [e["return"] for e in e1[:20]]:
        fail("both ranks played the same episodes (their env seeds must differ)")
    first = float(table[0]["ep_return_mean"])
    if not (first < 50 and got >= 150):
        fail("return did not improve enough: %.1f -> %.1f" % (first, got))
    ms = [float(r["allreduce_ms"]) for r in table]
    if min(ms) <= 0:
        fail("allreduce_ms %r" % ms[:5])
    print("ranks: %d iterations, weights %s on both ranks; rank 0 wrote %d files, rank 1 only "
          "its %d summary file(s); %d + %d episodes; ep_return_mean %.1f -> %.1f (= both "
          "windows); allreduce %.3f ms per iteration" % (n, h, len(f0), len(f1), len(e0),
                                                          len(e1), first, got, sum(ms) / n))


def tensors(path):
    """The F64/U64 scalars and F64 vectors of a safetensors file (first values)."""
    import numpy as np
    blob = open(path, "rb").read()
    n = int.from_bytes(blob[:8], "little")
    head = json.loads(blob[8:8 + n])
    out = {}
    for name, t in head.items():
        if name == "__metadata__" or t["dtype"] not in ("F64", "U64"):
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + a:8 + n + b],
                                  dtype="<f8" if t["dtype"] == "F64" else "<u8")
    return out


def determinism(c):
    """Normalisers and the target-KL stop on: their merges and the KL test
    are the ranks' too.  40 iterations of 2 ranks x 4 envs x 128 steps."""
    common = ["ppo.total_steps=40960", "ppo.normalize_obs=true", "ppo.normalize_reward=true",
              "ppo.target_kl=0.0003"]
    runs = {}
    for name, sets in [("a", ["run.seed=3"]), ("b", ["run.seed=3"]),
                       ("split", ["run.seed=3", "ppo.blas_threads=2"]), ("seed", ["run.seed=9"])]:
        p = c.mpi(2, name, *(common + sets))
        runs[name] = (hashes(p.stderr, 2), stable(rows(os.path.join(c.work, name))))
    for name in ("b", "split"):
        if runs[name] != runs["a"]:
            fail("run %s differs from run a (hash %r vs %r)" % (name, runs[name][0], runs["a"][0]))
    if runs["seed"][0] == runs["a"][0]:
        fail("another seed gave the same weights")
    t = tensors(os.path.join(c.work, "a", "checkpoints", "checkpoint_000040", "model.safetensors"))
    # Every rank's rows: 4 envs' first observations, then 4 per step.
    obs, ret = float(t["obs_rms.count"][0]), float(t["ret_rms.count"][0])
    if abs(obs - (1e-4 + 2 * 4 * (1 + 128 * 40))) > 1e-6 or abs(ret - (1e-4 + 2 * 4 * 128 * 40)) > 1e-6:
        fail("normaliser counts %r and %r are not both ranks' rows" % (obs, ret))
    steps = int(t["adam.step"][0])
    if not 40 * 4 <= steps < 40 * 16:
        fail("adam.step %d: target_kl never stopped an update early" % steps)
    print("determinism: 3 runs of 2 ranks with %d identical rows and learner %s; another "
          "seed: %s; normalisers count both ranks' rows (%.0f, %.0f); %d Adam steps of "
          "%d (target KL)" % (len(runs["a"][1]), runs["a"][0][0], runs["seed"][0][0], obs, ret,
                              steps, 40 * 16))


def same_checkpoint(a, b, it):
    ck = "checkpoints/checkpoint_%06d/model.safetensors" % it
    with open(os.path.join(a, ck), "rb") as x, open(os.path.join(b, ck), "rb") as y:
        if x.read() != y.read():
            fail("%s differs between %s and %s" % (ck, a, b))


def one_rank(c):
    c.plain("plain", "ppo.total_steps=30720")
    c.mpi(1, "mpi1", "ppo.total_steps=30720")
    a, b = (os.path.join(c.work, n) for n in ("plain", "mpi1"))
    if stable(rows(a)) != stable(rows(b)):
        fail("mpirun -n 1 and a plain run differ in progress.csv")
    same_checkpoint(a, b, 60)
    print("one_rank: mpirun -n 1 = plain (%d rows, model.safetensors)" % len(rows(a)))


def resume(c):
    p = c.mpi(2, "two", "ppo.total_steps=40960")
    saved = rows(os.path.join(c.work, "two"))[-1]
    ck = os.path.join(c.work, "two", "checkpoints", "checkpoint_000040")
    c.plain("plain", "ppo.total_steps=51200", "restore=" + ck)
    c.mpi(1, "mpi1", "ppo.total_steps=51200", "restore=" + ck)
    a, b = (os.path.join(c.work, n) for n in ("plain", "mpi1"))
    ta, tb = rows(a), rows(b)
    if stable(ta) != stable(tb):
        fail("the 2-rank checkpoint resumed plain and by mpirun -n 1 differ")
    if int(ta[0]["iteration"]) != 41 or int(ta[0]["env_steps"]) != int(saved["env_steps"]) + 512 \
            or int(ta[-1]["env_steps"]) != 51200 or int(ta[0]["episodes"]) < int(saved["episodes"]):
        fail("resumed run starts at %r after %r" % (ta[0], saved))
    same_checkpoint(a, b, len(ta) + 40)
    c.plain("one", "ppo.total_steps=20480")
    p = c.mpi(2, "again", "ppo.total_steps=40960",
              "restore=" + os.path.join(c.work, "one", "checkpoints", "checkpoint_000040"))
    h, it = hashes(p.stderr, 2)
    tc = rows(os.path.join(c.work, "again"))
    if it != 60 or int(tc[0]["iteration"]) != 41 or int(tc[0]["env_steps"]) != 20480 + 1024:
        fail("plain checkpoint resumed by 2 ranks: rows %r ... hash after %d" % (tc[0], it))
    print("resume: 2 ranks -> plain = mpirun -n 1 (%d rows from iteration 41, episodes %s -> %s); "
          "plain -> 2 ranks to iteration %d, weights %s"
          % (len(ta), saved["episodes"], ta[0]["episodes"], it, h))


def stop_by(c, name, how):
    cmd = [c.mpirun, "-n", "2"] + c.args(name, "ppo.total_steps=1000000000")
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=c.env)
    seen = 0
    for line in p.stderr:
        if line.startswith("iter "):
            seen += 1
            if seen == 20:
                break
    how(p)
    rest = p.stderr.read()
    code = p.wait(timeout=HANG)
    if code != 0:
        fail("%s: exit code %d:\n%s" % (name, code, rest[-3000:]))
    h, it = hashes(rest, 2)
    if "stopped by a signal after iteration %d" % it not in rest or \
            "checkpoint_%06d" % it not in os.listdir(os.path.join(c.work, name, "checkpoints")):
        fail("%s: no stop or checkpoint at iteration %d:\n%s" % (name, it, rest[-3000:]))
    return it


def rank_pid(mpirun_pid, rank):
    """The pid of `rank`, a child of mpirun, found by its environment."""
    for _ in range(100):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                stat = open("/proc/%s/stat" % d).read()
                env = open("/proc/%s/environ" % d, "rb").read().split(b"\0")
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == mpirun_pid and b"OMPI_COMM_WORLD_RANK=%d" % rank in env:
                return int(d)
        time.sleep(0.05)
    fail("rank %d of mpirun %d not found" % (rank, mpirun_pid))


def interrupted(c):
    a = stop_by(c, "usr1", lambda p: p.send_signal(signal.SIGUSR1))
    b = stop_by(c, "term1", lambda p: os.kill(rank_pid(p.pid, 1), signal.SIGTERM))
    print("signal: SIGUSR1 to mpirun stopped both ranks after iteration %d, SIGTERM to "
          "rank 1 after iteration %d; checkpoints saved" % (a, b))


def failure(c):
    base = c.args("bad", "ppo.total_steps=20480")
    t0 = time.time()
    p = c.run([c.mpirun, "-n", "1"] + base + [":", "-n", "1", "-x",
                                             "RESTORE_CHECKPOINT=" + os.path.join(c.work, "none")]
              + base, check=False)
    if p.returncode == 0 or "rank 0 of 2 stops: another rank failed" not in p.stderr or \
            "no checkpoint at" not in p.stderr or os.path.exists(os.path.join(c.work, "bad")):
        fail("a missing checkpoint on rank 1 (exit %d):\n%s" % (p.returncode, p.stderr[-3000:]))
    p = c.run([c.mpirun, "-n", "1"] + base + [":", "-n", "1"] + base + ["--set", "ppo.epochs=3"],
              check=False)
    if p.returncode == 0 or "rank 1's config differs from rank 0's" not in p.stderr or \
            "rank 0 of 2 stops: another rank failed" not in p.stderr or \
            os.path.exists(os.path.join(c.work, "bad")):
        fail("a config that differs on rank 1 (exit %d):\n%s" % (p.returncode, p.stderr[-3000:]))
    print("failure: both jobs ended (exit codes nonzero) in %.1f s" % (time.time() - t0))


def main():
    mode, gnarl, source, work, mpirun, have = sys.argv[1:7]
    if not mpirun or have not in ("1", "ON", "TRUE"):
        print("skipped: %s" % ("no mpirun" if not mpirun else "gnarl was built without MPI"))
        sys.exit(77)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    c = Ctx(gnarl, source, work, mpirun)
    {"ranks": ranks, "determinism": determinism, "one_rank": one_rank, "resume": resume,
     "signal": interrupted, "failure": failure}[mode](c)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
