#!/usr/bin/python3
"""The archive of start states (archive.enabled, core/learn/archive*.c) everywhere a
run goes, through the gnarl binary on the overworld with tiny budgets.

Usage: archive_test.py MODE GNARL SOURCE_DIR WORKDIR [MPIRUN HAVE_MPI]

  resume   a run's checkpoints hold its archive (`gnarl archive show --json`
           agrees with progress.csv's archive/* columns of that iteration);
           resumed with no steps left, the new checkpoint's archive is the
           saved one byte for byte; resumed with more steps, the archive goes on
           from it (said once); a checkpoint without an archive resumes with an
           empty one (said once); archive.enabled false leaves it unused (said);
           `gnarl eval` starts from the normal start and reports the archive
           apart; explore_steps ends episodes started from a cell; an env
           without one-env state ops, or without a game state, is refused
           with exit 2 and leaves no run directory
  s3       the same store on the S3 fixture (Ceph RGW): the archive lands in
           the bucket's checkpoints, `gnarl archive show|list` read it by s3://
           URI, and a local run resumed from it holds the same cells (exit 77
           without Ceph)
  gameboy  the free test cartridge (GNARL_TEST_ROM) under the gameboy env:
           episodes start from cells (none refused); resumed, the archive
           is the saved one byte for byte
  mpi      mpirun -n 2 with merges every 2 iterations: at each merge both ranks
           hold the same archive (the same SHA-256 of its cells), which has at
           least each rank's own cells and, at some merge, more than a rank had
           alone; rank 0's checkpoint of a merge iteration holds exactly that
           archive (exit 77 without mpirun or MPI)
"""
import csv
import hashlib
import json
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys

SETS = ["env.num_envs=6", "ppo.rollout_steps=64", "ppo.minibatch_size=128", "ppo.epochs=1",
        "policy.hidden=[32, 32]", "env.params.max_steps=150", "metrics.episodes=false",
        "checkpoint.every=1", "ppo.blas_threads=1", "archive.enabled=true",
        "archive.start_prob=0.7"]
BATCH = 6 * 64
# the saved archive: what every rank of a merge shares starts at its cell count
SHARED = 88
HANG = 300


def fail(msg, out=""):
    raise SystemExit("FAIL: " + msg + ("\n--- output ---\n" + out[-4000:] if out else ""))


class Ctx:
    def __init__(self, gnarl, src, work):
        self.gnarl, self.work = gnarl, work
        self.config = os.path.join(src, "configs", "env.yaml")
        self.cartpole = os.path.join(src, "configs", "cartpole.yaml")
        self.env = dict(os.environ)
        self.env.pop("RESTORE_CHECKPOINT", None)

    def run(self, args, expect=0, env=None):
        p = subprocess.run([self.gnarl] + args, capture_output=True, text=True,
                           env=dict(self.env, **(env or {})), timeout=HANG)
        if expect is not None and p.returncode != expect:
            fail("gnarl %s: exit %d, expected %d" % (" ".join(args), p.returncode, expect),
                 p.stdout + p.stderr)
        return p

    def train(self, name, sets=(), restore=None, storage=None, expect=0, env=None):
        args = ["train", "-c", self.config, "--set", "run.storage=" + (storage or self.work),
                "--set", "run.name=" + name]
        for s in list(SETS) + list(sets):
            args += ["--set", s]
        if restore:
            args += ["--restore", restore]
        return self.run(args, expect, env).stderr

    def ckpt(self, name, it):
        return os.path.join(self.work, name, "checkpoints", "checkpoint_%06d" % it)


def tensors(ckpt):
    """{name: bytes} of a checkpoint's model.safetensors, read with struct/json."""
    blob = open(os.path.join(ckpt, "model.safetensors"), "rb").read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    head = json.loads(blob[8:8 + n])
    head.pop("__metadata__", None)
    return {k: blob[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]
            for k, v in head.items()}


def archive_of(ckpt):
    t = tensors(ckpt)
    if "archive" not in t:
        fail("%s holds no archive tensor (%s)" % (ckpt, sorted(t)))
    return t["archive"]


def cells_of(blob):
    return struct.unpack_from("<I", blob, SHARED)[0]


def progress(ctx, name):
    with open(os.path.join(ctx.work, name, "progress.csv")) as f:
        return {int(r["iteration"]): r for r in csv.DictReader(f)}


def show(ctx, uri, extra=(), env=None):
    p = ctx.run(["archive", "show", uri, "--json"] + list(extra), env=env)
    return json.loads(p.stdout)


def once(log, needle):
    if log.count(needle) != 1:
        fail("expected once in the log: %r (%d times)" % (needle, log.count(needle)), log)


def resume(ctx):
    # A: 4 iterations; every checkpoint holds the archive of its iteration
    ctx.train("a", ["ppo.total_steps=%d" % (4 * BATCH)])
    table = progress(ctx, "a")
    for it in (1, 4):
        s = show(ctx, ctx.ckpt("a", it))
        row = table[it]
        if s["cells"] != int(float(row["archive/cells"])) or \
                s["rooms"] != int(float(row["archive/rooms"])) or s["cells"] < 5:
            fail("iteration %d: gnarl archive show says %d cells in %d rooms, progress.csv "
                 "%s and %s" % (it, s["cells"], s["rooms"], row["archive/cells"],
                                row["archive/rooms"]))
        if s["bytes"] != len(archive_of(ctx.ckpt("a", it))):
            fail("archive show's bytes %d, the tensor's %d" % (s["bytes"],
                                                               len(archive_of(ctx.ckpt("a", it)))))
    a4 = archive_of(ctx.ckpt("a", 4))
    if float(table[4]["archive/start_share"]) < 0 or "archive/new_cells" not in table[4]:
        fail("progress.csv lacks the archive's columns: %s" % sorted(table[4]))
    listed = json.loads(ctx.run(["archive", "list", ctx.ckpt("a", 4), "--json"]).stdout)
    if len(listed) != cells_of(a4) or sum(c["visits"] for c in listed) < len(listed):
        fail("archive list: %d cells, the archive %d" % (len(listed), cells_of(a4)))
    # B: nothing left to train: its checkpoint holds the restored archive as it was
    log = ctx.train("b", ["ppo.total_steps=%d" % (4 * BATCH)], restore=ctx.ckpt("a", 4))
    once(log, "archive of start states from the checkpoint: %d cells" % cells_of(a4))
    if archive_of(ctx.ckpt("b", 4)) != a4:
        fail("the archive resumed and saved again differs from the saved one")
    # C: two more iterations go on from it
    log = ctx.train("c", ["ppo.total_steps=%d" % (6 * BATCH)], restore=ctx.ckpt("a", 4))
    once(log, "archive of start states from the checkpoint")
    c = progress(ctx, "c")
    if int(float(c[5]["archive/cells"])) < cells_of(a4):
        fail("the resumed run's archive shrank: %s cells, %d saved" % (c[5]["archive/cells"],
                                                                       cells_of(a4)))
    # a checkpoint without an archive: the archive starts empty, said once
    ctx.train("plain", ["ppo.total_steps=%d" % (2 * BATCH), "archive.enabled=false"])
    log = ctx.train("d", ["ppo.total_steps=%d" % (3 * BATCH)], restore=ctx.ckpt("plain", 2))
    once(log, "the checkpoint holds no archive of start states: the archive starts empty")
    if int(float(progress(ctx, "d")[3]["archive/cells"])) < 1:
        fail("the archive did not start again")
    # archive.enabled false: the checkpoint's archive is not used, said
    log = ctx.train("e", ["ppo.total_steps=%d" % (5 * BATCH), "archive.enabled=false"],
                    restore=ctx.ckpt("a", 4))
    once(log, "archive of start states is not used: archive.enabled is false")
    if "archive/cells" in progress(ctx, "e")[5]:
        fail("a run without an archive has archive/* columns")
    # eval: the normal start, the archive's reach apart
    p = ctx.run(["eval", "-c", ctx.config, "--restore", ctx.ckpt("a", 4), "--episodes", "2",
                 "--json"] + sum((["--set", s] for s in SETS), []))
    j = json.loads(p.stdout)
    if j["start"] != "normal" or j["archive"]["cells"] != cells_of(a4) or \
            j["archive"]["rooms"] != show(ctx, ctx.ckpt("a", 4))["rooms"]:
        fail("eval --json: start %r, archive %r" % (j["start"], j["archive"]))
    p = ctx.run(["eval", "-c", ctx.config, "--restore", ctx.ckpt("a", 4), "--episodes", "2"] +
                sum((["--set", s] for s in SETS), []))
    if "the env's normal start (never the archive of start states)" not in p.stdout or \
            "cells %d, rooms" % cells_of(a4) not in p.stdout:
        fail("eval's text does not say where episodes start or what the archive holds",
             p.stdout)
    # explore_steps: episodes started from a cell end after 16 steps
    ctx.train("h", ["ppo.total_steps=%d" % (6 * BATCH), "archive.start_prob=1",
                    "archive.explore_steps=16"])
    last = progress(ctx, "h")[6]
    if float(last["ep_len_mean"]) > 40 or int(float(last["episodes"])) < 80:
        fail("explore_steps=16: ep_len_mean %s over %s episodes" % (last["ep_len_mean"],
                                                                    last["episodes"]))
    refusals(ctx)
    print("resume: ok (%d cells at iteration 4, %d bytes)" % (cells_of(a4), len(a4)))


def refusals(ctx):
    fixture = os.path.join(os.environ.get("GNARL_FIXTURE_DIR", ""), "fixture_env.so")
    if not os.path.exists(fixture):
        fail("no fixture env at %s (GNARL_FIXTURE_DIR)" % fixture)
    p = ctx.run(["train", "-c", ctx.cartpole, "--set", "run.storage=" + ctx.work,
                 "--set", "run.name=fixture", "--set", "env.plugin=" + fixture,
                 "--set", "env.params={}", "--set", "archive.enabled=true"], expect=2)
    if "archive.enabled: env 'fixture_env' cannot save and load one env's state" not in \
            p.stderr or os.path.exists(os.path.join(ctx.work, "fixture")):
        fail("an env without one-env state ops", p.stderr)
    p = ctx.run(["config", "check", "-c", ctx.cartpole, "--set", "env.plugin=" + fixture,
                 "--set", "env.params={}", "--set", "archive.enabled=true"], expect=2)
    if "cannot save and load one env's state" not in p.stderr:
        fail("config check of an env without one-env state ops", p.stderr)
    p = ctx.run(["train", "-c", ctx.cartpole, "--set", "run.storage=" + ctx.work,
                 "--set", "run.name=cartpole", "--set", "archive.enabled=true"], expect=2)
    if "archive.enabled: env 'cartpole' reports no game state" not in p.stderr or \
            os.path.exists(os.path.join(ctx.work, "cartpole")):
        fail("an env without a game state (refused, and no run directory)", p.stderr)
    p = ctx.run(["config", "check", "-c", ctx.config, "--set", "archive.cell={room: 1, hat: 2}"],
                expect=2)
    if "archive.cell.hat: not a game-state field" not in p.stderr:
        fail("a cell of an unknown field", p.stderr)
    p = ctx.run(["archive", "show", ctx.ckpt("plain", 2)], expect=3)
    if "holds no archive of start states" not in p.stderr:
        fail("archive show of a checkpoint without one", p.stderr)


def s3_env():
    path = os.environ.get("GNARL_S3_ENV")
    if not path or not os.path.exists(path):
        print("SKIP: GNARL_S3_ENV is not set (run through ctest, which starts the fixture)")
        sys.exit(77)
    env = {}
    for line in open(path):
        if "=" in line:
            k, v = line.strip().split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""
    if "GNARL_S3_SKIP" in env:
        print("SKIP: " + env["GNARL_S3_SKIP"])
        sys.exit(77)
    return env


def s3(ctx):
    env = s3_env()
    keys = {"S3_ACCESS_KEY_ID": env["S3_ACCESS_KEY_ID"],
            "S3_SECRET_ACCESS_KEY": env["S3_SECRET_ACCESS_KEY"],
            "S3_REGION_NAME": env.get("S3_REGION_NAME", "us-east-1")}
    store = ["storage.s3.endpoint=" + env["S3_ENDPOINT_URL"], "storage.s3.create_bucket=true",
             "storage.s3.max_retries=1", "storage.s3.timeout_ms=30000"]
    root = "s3://gnarl-archive-%d/runs" % os.getpid()
    sets = ["ppo.total_steps=%d" % (3 * BATCH)] + store
    ctx.train("a", sets, storage=root, env=keys)
    uri = root + "/a/checkpoints/checkpoint_000003"
    flags = ["-c", ctx.config] + sum((["--set", s] for s in store), [])
    s = show(ctx, uri, flags, env=keys)
    listed = json.loads(ctx.run(["archive", "list", uri, "--json"] + flags, env=keys).stdout)
    if s["cells"] < 5 or len(listed) != s["cells"] or s["checkpoint"] != uri:
        fail("archive show/list of %s: %r, %d cells listed" % (uri, s, len(listed)))
    # into a local run, nothing left to train: the same cells
    log = ctx.train("local", sets, restore=uri, env=keys)
    once(log, "archive of start states from the checkpoint: %d cells" % s["cells"])
    local = json.loads(ctx.run(["archive", "list", ctx.ckpt("local", 3), "--json"]).stdout)
    if local != listed:
        fail("the local run's archive differs from the one in S3")
    print("s3: ok (%d cells through %s)" % (s["cells"], uri))


def gameboy(ctx):
    """The gameboy env's one-env state ops under the archive, on the free
    test cartridge: starts from cells work (none refused), and the archive
    survives a resume byte for byte."""
    rom = os.environ.get("GNARL_TEST_ROM", "")
    if not os.path.exists(rom):
        fail("no test cartridge at GNARL_TEST_ROM=%r" % rom)
    cfg = os.path.join(os.path.dirname(ctx.config), "test-cartridge.yaml")
    sets = ["env.num_envs=4", "ppo.rollout_steps=64", "ppo.minibatch_size=128",
            "ppo.epochs=1", "policy.hidden=[32]", "checkpoint.every=1",
            "metrics.episodes=false", "archive.enabled=true", "archive.start_prob=1",
            "archive.explore_steps=32", "archive.max_cells=256"]

    def train(name, steps, restore=None):
        args = ["train", "-c", cfg, "--set", "run.storage=" + ctx.work, "--set",
                "run.name=" + name, "--set", "ppo.total_steps=%d" % steps]
        for x in sets:
            args += ["--set", x]
        return ctx.run(args + (["--restore", restore] if restore else [])).stderr

    log = train("gb", 6 * 256)
    table = progress(ctx, "gb")
    last = table[6]
    starts = [float(r["archive/start_share"]) for r in table.values()]
    if int(float(last["archive/cells"])) < 3 or float(last["archive/refused"]) != 0 or \
            max(starts) <= 0 or "refused" in log:
        fail("the cartridge under the archive: %s cells, %s refused, start shares %r"
             % (last["archive/cells"], last["archive/refused"], starts), log)
    s = show(ctx, ctx.ckpt("gb", 6))
    if s["env"] != "gameboy" or s["state_bytes"] < 4096:
        fail("archive show of the cartridge's run: %r" % s)
    blob = archive_of(ctx.ckpt("gb", 6))
    train("gb2", 6 * 256, restore=ctx.ckpt("gb", 6))
    if archive_of(ctx.ckpt("gb2", 6)) != blob:
        fail("the cartridge's archive resumed and saved again differs")
    print("gameboy: ok (%d cells of %d-byte states, start share up to %.2f)"
          % (s["cells"], s["state_bytes"], max(starts)))


MERGE = re.compile(r"rank (\d+) of 2: merged after iteration (\d+): (\d+) cells here, (\d+) in "
                   r"the merge \(sha256 ([0-9a-f]{64}), ([0-9.]+) ms\)")


def mpi(ctx, mpirun, have_mpi):
    if not mpirun or have_mpi != "1":
        print("SKIP: no mpirun or this gnarl has no MPI")
        sys.exit(77)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import mpi_test  # noqa: E402  (its Open MPI settings for loopback)
    env = dict(mpi_test.QUIET, GNARL_LOG_LEVEL="debug")
    args = [mpirun, "-n", "2", ctx.gnarl, "train", "-c", ctx.config,
            "--set", "run.storage=" + ctx.work, "--set", "run.name=mpi"]
    for s in SETS + ["ppo.total_steps=%d" % (12 * 2 * BATCH), "archive.merge_every=2",
                     "checkpoint.every=2", "checkpoint.keep_last=10",
                     "archive.start_prob=0.3"]:
        args += ["--set", s]
    p = subprocess.run(args, capture_output=True, text=True, env=dict(ctx.env, **env),
                       timeout=HANG)
    if p.returncode != 0:
        fail("mpirun -n 2: exit %d" % p.returncode, p.stderr)
    merges = {}
    for m in MERGE.finditer(p.stderr):
        rank, it, here, merged, digest = int(m[1]), int(m[2]), int(m[3]), int(m[4]), m[5]
        merges.setdefault(it, {})[rank] = (here, merged, digest)
    if sorted(merges) != [2, 4, 6, 8, 10, 12]:
        fail("merges after iterations %s" % sorted(merges), p.stderr)
    grew = False
    for it, r in sorted(merges.items()):
        if sorted(r) != [0, 1] or r[0][1:] != r[1][1:]:
            fail("iteration %d: the ranks' merged archives differ: %r" % (it, r))
        if r[0][1] < max(r[0][0], r[1][0]):
            fail("iteration %d: %d cells merged from %d and %d" % (it, r[0][1], r[0][0],
                                                                   r[1][0]))
        grew |= r[0][1] > r[0][0] and r[1][1] > r[1][0]
        blob = archive_of(ctx.ckpt("mpi", it))
        if hashlib.sha256(blob[SHARED:]).hexdigest() != r[0][2]:
            fail("iteration %d: rank 0's checkpoint holds another archive than the merge" % it)
    if not grew:
        fail("no merge gave both ranks cells they did not have: %r" % merges)
    ms = [float(m[6]) for m in MERGE.finditer(p.stderr)]
    print("mpi: %d merges, each the same on both ranks; %d cells at the end; merge %.2f ms "
          "median" % (len(merges), merges[12][0][1], sorted(ms)[len(ms) // 2]))


def main():
    mode, gnarl, src, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ctx = Ctx(gnarl, src, work)
    if mode == "resume":
        resume(ctx)
    elif mode == "s3":
        s3(ctx)
    elif mode == "gameboy":
        gameboy(ctx)
    elif mode == "mpi":
        mpi(ctx, sys.argv[5] if len(sys.argv) > 5 else "", sys.argv[6] if len(sys.argv) > 6
            else "0")
    else:
        fail("unknown mode " + mode)


if __name__ == "__main__":
    main()
