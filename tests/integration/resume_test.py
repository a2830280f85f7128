#!/usr/bin/python3
"""Train-then-resume runs through the gnarl binary (issue 5).

Usage: resume_test.py MODE GNARL SOURCE_DIR WORKDIR

Modes (each a handful of real `gnarl train` runs with tiny budgets):
  exact_cartpole   20 iterations straight vs 10 + resume + 10 (one thread,
                   fixed seed, normalisers on): byte-identical model.safetensors
                   at iteration 20, with the linear learning rate (--stop-after)
                   and with a constant one (total_steps raised on resume)
  exact_overworld  the same on the overworld with every reward term (exit 77 if
                   the overworld cannot save its state)
  exact_gameboy    the same on the free test cartridge (under GNARL_EMULATOR), resumed
                   mid-episode (exit 77 without GNARL_TEST_ROM)
  abi_1_0          the same with a reward term built against the frozen ABI 1.0
                   header (tests/plugins/abi-1.0, its own save/load) next to a
                   1.1 term (host memory): 1.0 plugins load, train and resume
  legacy_memory    a checkpoint whose reward memory is in the framing the
                   in-tree terms used before ABI 1.1 (GRW1 blobs, made here from a
                   checkpoint of this gnarl): resumed, it continues exactly as
                   the checkpoint it was made from; grid_exploration's old
                   format (cell lists) is not read: that term starts empty,
                   saying so in one line
  reweight         (a) room_discovery's weight 1.0 -> 1.5 (its 20 becomes 30)
  add_term         (b) dungeon_entry added, absent from the first run
  num_envs         (c) env.num_envs 5 -> 25
  reward_param     (d) a reward parameter (room_discovery new_room 20 -> 30)
  llm_probability  (d) an LLM probability, against tests/llm/server.py
  episode_length   (e) env.params.max_steps 100 -> 150
  refusals         observation size, action list, hidden sizes, a flipped byte,
                   a truncated file (size check and safetensors rules), a missing
                   manifest, a missing path, a newer format: exit 3, the right
                   message, no run directory created
  crash            SIGKILL at random moments of a run saving every iteration, 100
                   times, each run resuming from `latest`: `latest` always loads
                   and verifies
  save_failure     saves fail mid-run (the checkpoints path is blocked): training
                   goes on, the next save after the path is cleared succeeds
  commands         checkpoints list/show/diff/tag on real runs; latest and
                   tag:NAME; --restore > RESTORE_CHECKPOINT > restore:; a tag
                   taken mid-run survives retention
  s3               the same store on the S3 fixture (Ceph RGW): save, list, tag,
                   restore by s3:// URI, latest, tag:NAME; the gateway cut
                   mid-run (through a relay): saves fail and are logged,
                   training goes on, saving resumes (exit 77 without Ceph)

Each use case: run A trains 3 iterations; run B resumes A's checkpoint with the
new config and no steps left (so its checkpoint holds exactly what was
restored: the learner's tensors must equal A's byte for byte); run C resumes
with 2 more iterations: it logs RESTORING, prints the change, starts at
iteration 4 and its manifests name A's checkpoint as parent.
"""
import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import compare_models  # noqa: E402  (reads safetensors with struct/json)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cannot_run import cannot_run  # noqa: E402

OW_SETS = ["env.num_envs=5", "ppo.rollout_steps=32", "ppo.minibatch_size=80",
           "ppo.epochs=2", "policy.hidden=[32, 32]", "env.params.max_steps=100",
           "metrics.episodes=false", "checkpoint.every=1", "ppo.blas_threads=1",
           "env.threads=1"]
# Episodes of 50 steps and rollouts of 32: the resume at iteration 10 falls
# mid-episode, so the cartridge's running episodes must be restored.
GB_SETS = ["env.num_envs=4", "ppo.rollout_steps=32", "ppo.minibatch_size=64",
           "ppo.epochs=2", "policy.hidden=[32, 32]", "env.params.max_steps=50",
           "metrics.episodes=false", "ppo.blas_threads=1", "env.threads=1"]
CP_SETS = ["checkpoint.every=1", "ppo.blas_threads=1", "metrics.episodes=false"]


class Ctx:
    def __init__(self, gnarl, src, work):
        self.gnarl, self.src, self.work = gnarl, src, work
        self.ow = os.path.join(src, "configs", "env.yaml")
        self.cp = os.path.join(src, "configs", "cartpole.yaml")


def fail(msg, out=""):
    raise SystemExit(msg + ("\n--- output ---\n" + out[-4000:] if out else ""))


def run(ctx, args, env=None):
    e = dict(os.environ)
    e.pop("RESTORE_CHECKPOINT", None)
    e.update(env or {})
    return subprocess.run([ctx.gnarl] + args, capture_output=True, text=True, env=e)


def train(ctx, config, name, sets=(), restore=None, expect=0, extra=(), env=None):
    args = ["train", "-c", config, "--set", "run.storage=" + ctx.work,
            "--set", "run.name=" + name, "--set", "log.every_seconds=0"]
    for s in sets:
        args += ["--set", s]
    if restore:
        args += ["--restore", restore]
    args += list(extra)
    p = run(ctx, args, env)
    if p.returncode != expect:
        fail("gnarl %s: exit %d, expected %d" % (" ".join(args), p.returncode, expect),
             p.stderr)
    return p.stderr


def ckpt(ctx, run_name, it):
    return os.path.join(ctx.work, run_name, "checkpoints", "checkpoint_%06d" % it)


def tensors(path):
    """{name: (dtype, shape, bytes)} of a checkpoint's model.safetensors."""
    return compare_models.load(os.path.join(path, "model.safetensors"))


def manifest(path):
    return json.load(open(os.path.join(path, "manifest.json")))


def first_iteration(log):
    for line in log.splitlines():
        if line.startswith("iter "):
            return int(line.split()[1])
    return None


LEARNER = ("actor.", "critic.", "trunk.", "policy.", "value.", "adam.", "obs_rms.",
           "trainer.")


def same_learner(a, b, out, reset_envs=0):
    """The learner's tensors (weights, Adam, normalisers, counters, RNG) of two
    checkpoints are byte-identical; returns how many were compared.  When the
    restore reset `reset_envs` envs, their first observations went into the
    observation statistics (as at a fresh start): the count grew by that."""
    ta, tb = tensors(a), tensors(b)
    names = [k for k in ta if k.startswith(LEARNER) or k in (
        "ret_rms.mean", "ret_rms.var", "ret_rms.count", "episode.total", "episode.window")]
    if reset_envs:
        names = [k for k in names if k not in ("obs_rms.mean", "obs_rms.var", "obs_rms.count")]
        ca = struct.unpack("<d", ta["obs_rms.count"][2])[0]
        cb = struct.unpack("<d", tb["obs_rms.count"][2])[0]
        if cb != ca + reset_envs:
            fail("obs_rms.count %r after a reset of %d envs, %r at the checkpoint"
                 % (cb, reset_envs, ca), out)
    if len(names) < 10:
        fail("only %d learner tensors in %s" % (len(names), a))
    for k in names:
        if k not in tb or ta[k] != tb[k]:
            fail("tensor %s differs between %s and %s" % (k, a, b), out)
    return len(names)


def per_iter(sets):
    d = dict(s.split("=", 1) for s in sets)
    return int(d.get("env.num_envs", 5)) * int(d.get("ppo.rollout_steps", 32))


def use_case(ctx, label, base_sets, new_sets, diff_lines, expect_continue,
             base_config=None, new_config=None, env=None):
    base_config = base_config or ctx.ow
    new_config = new_config or base_config
    a_sets = OW_SETS + base_sets
    b_sets = OW_SETS + new_sets
    steps = 3 * per_iter(a_sets)
    train(ctx, base_config, "a", a_sets + ["ppo.total_steps=%d" % steps], env=env)
    a3 = ckpt(ctx, "a", 3)
    has_env_state = "env.state" in tensors(a3)
    # B: nothing left to train (less than one batch), so its checkpoint is
    # what was restored.
    b_total = max(steps, per_iter(b_sets))
    log_b = train(ctx, new_config, "b", b_sets + ["ppo.total_steps=%d" % b_total],
                  restore=a3, env=env)
    for want in ["RESTORING from checkpoint: %s (iteration 3)" % a3,
                 "resumed at iteration 4"] + diff_lines:
        if want not in log_b:
            fail("%s: resumed run does not log %r" % (label, want), log_b)
    cont = "envs continue their running episodes" in log_b
    if expect_continue and has_env_state and not cont:
        fail("%s: the envs should continue their episodes" % label, log_b)
    if not expect_continue and cont:
        fail("%s: the envs should start new episodes" % label, log_b)
    n = same_learner(a3, ckpt(ctx, "b", 3), log_b,
                     0 if cont else int(dict(x.split("=", 1) for x in b_sets)["env.num_envs"]))
    if manifest(ckpt(ctx, "b", 3))["parent"] != a3:
        fail("%s: B's manifest does not name A's checkpoint as parent" % label)
    # C: two more iterations under the new config.
    total = steps + 2 * per_iter(b_sets)
    log_c = train(ctx, new_config, "c", b_sets + ["ppo.total_steps=%d" % total],
                  restore=a3, env=env)
    if first_iteration(log_c) != 4:
        fail("%s: the resumed run starts at iteration %r, not 4" % (label,
             first_iteration(log_c)), log_c)
    m = manifest(ckpt(ctx, "c", 5))
    if m["parent"] != a3 or m["iteration"] != 5 or m["env_steps"] != total:
        fail("%s: C's last manifest: parent %r iteration %r env_steps %r" % (
             label, m["parent"], m["iteration"], m["env_steps"]))
    diff = [l for l in log_b.splitlines() if l.startswith("  ")]
    print("%s: resumed at iteration 4, %d learner tensors restored byte for byte, envs %s;"
          " diff:\n%s" % (label, n, "continue" if cont else "reset", "\n".join(diff)))
    return m


# ---- exactness --------------------------------------------------------------


def exact(ctx, config, sets, label):
    per = 4 * 128 if config == ctx.cp else per_iter(sets)
    common = sets + ["checkpoint.every=10", "ppo.total_steps=%d" % (20 * per)]
    train(ctx, config, "straight", common)
    log1 = train(ctx, config, "part1", common, extra=["--stop-after", "10"])
    if "env.state" not in tensors(ckpt(ctx, "part1", 10)):
        fail("%s: the env saved no state: exactness needs env state ops, which every "
             "in-tree env has" % label)
    log2 = train(ctx, config, "part2", common, restore=ckpt(ctx, "part1", 10))
    if "envs continue their running episodes" not in log2 or first_iteration(log2) != 11:
        fail("%s: resumed run did not continue at iteration 11" % label, log2)
    a = open(os.path.join(ckpt(ctx, "straight", 20), "model.safetensors"), "rb").read()
    b = open(os.path.join(ckpt(ctx, "part2", 20), "model.safetensors"), "rb").read()
    if a != b:
        ta, tb = tensors(ckpt(ctx, "straight", 20)), tensors(ckpt(ctx, "part2", 20))
        bad = [k for k in ta if ta[k] != tb.get(k)]
        if bad == ["env.state"] and label == "gameboy" and gambatte_same_envs(ta["env.state"], tb["env.state"]):
            print("%s: every tensor identical; env.state identical but for Gambatte's fields "
                  "it does not round-trip (the game never reads them)" % label)
            return len(a)
        fail("%s: model.safetensors at iteration 20 differ in %r" % (label, bad), log2)
    print("%s: 20 straight == 10 + resume + 10 (linear lr): %d bytes identical, sha256 %s"
          % (label, len(a), hashlib.sha256(a).hexdigest()[:16]))
    return len(a)


# Fields of Gambatte's states that do not round-trip through a load and that
# the game never reads (plugins/envs/gameboy/emu_retro.c, gambatte_unread).
GAMBATTE_UNREAD = {b"lfsrreg", b"csprite", b"spattr", b"endx", b"rtcbase", b"rtchalt"}


def gambatte_same_envs(ta, tb):
    """Two gameboy env states (gnarl state blobs, plugins/envs/gameboy/
    gameboy_state.c: a 128-byte header with the emulator's name at 24, then
    per env 16 bytes of counters and the emulator's state) under Gambatte:
    the same header and counters, the same emulator states but for
    GAMBATTE_UNREAD."""
    a, b = ta[2], tb[2]
    if len(a) != len(b) or len(a) < 128:
        return False
    magic, version, n_envs, header, size = struct.unpack_from("<4sIIIQ", a, 0)
    if (magic, version, header) != (b"GBST", 2, 128) or a[:header] != b[:header] or \
            a[24:56].rstrip(b"\0") != b"gambatte" or len(a) != header + n_envs * (16 + size):
        return False
    for e in range(n_envs):
        p = header + e * (16 + size)
        if a[p:p + 16] != b[p:p + 16]:
            return False
        sa, sb = a[p + 16:p + 16 + size], b[p + 16:p + 16 + size]
        i = 5 + int.from_bytes(sa[2:5], "big")
        if sa[:i] != sb[:i]:
            return False
        while i < size:
            j = sa.index(b"\0", i)
            end = j + 4 + int.from_bytes(sa[j + 1:j + 4], "big")
            if sa[i:j + 4] != sb[i:j + 4] or (sa[i:j] not in GAMBATTE_UNREAD and
                                              sa[j + 4:end] != sb[j + 4:end]):
                return False
            i = end
    return True


def exact_cartpole(ctx):
    sets = ["ppo.blas_threads=1", "env.threads=1", "ppo.normalize_obs=true",
            "ppo.normalize_reward=true", "metrics.episodes=false"]
    exact(ctx, ctx.cp, sets, "cartpole")
    # The natural way with a constant learning rate: 10 iterations, then the
    # same config with a bigger budget.
    c = sets + ["ppo.lr_schedule=constant", "checkpoint.every=10"]
    train(ctx, ctx.cp, "cstraight", c + ["ppo.total_steps=10240"])
    train(ctx, ctx.cp, "cpart1", c + ["ppo.total_steps=5120"])
    log = train(ctx, ctx.cp, "cpart2", c + ["ppo.total_steps=10240"],
                restore=ckpt(ctx, "cpart1", 10))
    a = open(os.path.join(ckpt(ctx, "cstraight", 20), "model.safetensors"), "rb").read()
    b = open(os.path.join(ckpt(ctx, "cpart2", 20), "model.safetensors"), "rb").read()
    if a != b:
        fail("cartpole, constant lr: model.safetensors at iteration 20 differ", log)
    print("cartpole: 20 straight == 10 + resume (total_steps raised) + 10 (constant lr)")


def exact_overworld(ctx):
    exact(ctx, ctx.ow, OW_SETS, "overworld")


def exact_gameboy(ctx):
    """The same on the free test cartridge under the emulator GNARL_EMULATOR
    names (configs/test-cartridge.yaml; libmgba when unset)."""
    if not os.path.exists(os.environ.get("GNARL_TEST_ROM", "")):
        cannot_run("no test cartridge (GNARL_TEST_ROM)")
    exact(ctx, os.path.join(ctx.src, "configs", "test-cartridge.yaml"), GB_SETS, "gameboy")


def abi_1_0(ctx):
    fixture = os.path.join(os.environ["GNARL_FIXTURE_DIR"], "fixture_v10_rooms.so")
    sets = OW_SETS + ["rewards=[{plugin: %s, params: {new_room: 3}}, {plugin: movement}]"
                      % fixture]
    exact(ctx, ctx.ow, sets, "ABI 1.0 fixture")
    t = tensors(ckpt(ctx, "part2", 20))
    if "reward.fixture_v10_rooms" not in t or "reward.movement.memory" not in t:
        fail("ABI 1.0 fixture: the checkpoint lacks the 1.0 term's blob or the 1.1 term's "
             "memory: %r" % sorted(k for k in t if k.startswith("reward")))
    log = open(os.path.join(ctx.work, "part2", "progress.csv")).readline()
    if "reward/fixture_v10_rooms" not in log:
        fail("ABI 1.0 fixture: no reward/fixture_v10_rooms column in progress.csv", log)


def write_safetensors(path, entries):
    """entries: [(name, dtype, shape, bytes)] in order, as gnarl lays them out."""
    head, off = {"__metadata__": {"format": "pt"}}, 0
    for name, dtype, shape, data in entries:
        head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
    text = json.dumps(head, separators=(",", ":")).encode()
    text += b" " * ((8 - (len(text) + 8) % 8) % 8)
    blob = struct.pack("<Q", len(text)) + text + b"".join(e[3] for e in entries)
    open(path, "wb").write(blob)
    return blob


def grw1(name, n_envs, env_bytes):
    """The framing of a term's memory before ABI 1.1 (the former plugins/rewards/reward_state.h)."""
    return struct.pack("<II32sIIII", 0x31575247, 1, name.encode(), 0, n_envs, 0,
                       len(env_bytes)) + env_bytes


def to_legacy(src, dst):
    """A copy of checkpoint src with every reward.<term>.memory tensor replaced by
    the blob the term saved before ABI 1.1: the same records for the dense terms, cell
    lists for grid_exploration."""
    shutil.copytree(src, dst)
    blob = open(os.path.join(src, "model.safetensors"), "rb").read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    head = json.loads(blob[8:8 + n])
    head.pop("__metadata__", None)
    data = blob[8 + n:]
    entries = []
    for name, v in sorted(head.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        b = data[v["data_offsets"][0]:v["data_offsets"][1]]
        if name.startswith("reward.") and name.endswith(".memory"):
            term = name[len("reward."):-len(".memory")]
            envs, per = v["shape"]
            if term == "grid_exploration":
                lists = struct.pack("<I", 32)
                for e in range(envs):
                    words = struct.unpack_from("<%dI" % (per // 4), b, e * per)
                    keys = [w - 1 for w in words[1:] if w]
                    lists += struct.pack("<I%dI" % len(keys), len(keys), *keys)
                b = grw1(term, envs, lists)
            else:
                b = grw1(term, envs, b)
            entries.append(("reward." + term, "U8", [len(b)], b))
        else:
            entries.append((name, v["dtype"], v["shape"], b))
    out = write_safetensors(os.path.join(dst, "model.safetensors"), entries)
    m = manifest(dst)
    m["files"]["model.safetensors"]["sha256"] = hashlib.sha256(out).hexdigest()
    m["files"]["model.safetensors"]["size"] = len(out)
    json.dump(m, open(os.path.join(dst, "manifest.json"), "w"))


def legacy_memory(ctx):
    config = without_term(ctx, "grid_exploration")
    per = per_iter(OW_SETS)
    common = OW_SETS + ["checkpoint.every=10", "ppo.total_steps=%d" % (20 * per)]
    train(ctx, config, "part1", common, extra=["--stop-after", "10"])
    old = os.path.join(ctx.work, "old_checkpoint")
    to_legacy(ckpt(ctx, "part1", 10), old)
    if not any(k.startswith("reward.") and not k.endswith(".memory") for k in tensors(old)):
        fail("legacy_memory: the converted checkpoint holds no 0.1 blob")
    train(ctx, config, "from_new", common, restore=ckpt(ctx, "part1", 10))
    log = train(ctx, config, "from_old", common, restore=old)
    if "starts with empty memory" in log or "envs continue their running episodes" not in log:
        fail("legacy_memory: a term did not take its 0.1 memory", log)
    a = open(os.path.join(ckpt(ctx, "from_new", 20), "model.safetensors"), "rb").read()
    b = open(os.path.join(ckpt(ctx, "from_old", 20), "model.safetensors"), "rb").read()
    if a != b:
        fail("legacy_memory: resumed from the GRW1 framing, the run left the original's", log)
    # grid_exploration's cell lists: one line, the term starts empty, the rest go on.
    train(ctx, ctx.ow, "grid1", common, extra=["--stop-after", "10"])
    old = os.path.join(ctx.work, "old_grid")
    to_legacy(ckpt(ctx, "grid1", 10), old)
    log = train(ctx, ctx.ow, "grid2", common[:-1] + ["ppo.total_steps=%d" % (11 * per)],
                restore=old)
    empty = [l for l in log.splitlines() if "starts with empty memory" in l]
    if len(empty) != 1 or "grid_exploration" not in empty[0] or "before ABI 1.1" not in empty[0]:
        fail("legacy_memory: expected one line about grid_exploration's old memory", log)
    print("legacy_memory: GRW1 blobs of 5 terms resumed byte-identically (%d bytes); %s"
          % (len(a), empty[0]))


# ---- the use cases -----------------------------------------------------------


def reweight(ctx):
    use_case(ctx, "(a) reweight", [], ["rewards.0.weight=1.5"],
             ["~ rewards[room_discovery].weight: 1.0 -> 1.5"], True)


def without_term(ctx, term):
    """configs/env.yaml without reward term `term` (written to the work dir)."""
    lines = open(ctx.ow).read().splitlines(keepends=True)
    out, skip = [], False
    for line in lines:
        if line.strip().startswith("- plugin: "):
            skip = line.strip().split()[2] == term
        elif skip and not line.startswith("    "):
            skip = False
        if not skip:
            out.append(line)
    path = os.path.join(ctx.work, "without_%s.yaml" % term)
    open(path, "w").write("".join(out))
    return path


def add_term(ctx):
    base = without_term(ctx, "dungeon_entry")
    m = use_case(ctx, "(b) add dungeon_entry", [], [], ["+ rewards[dungeon_entry]:",
                 "reward term 'dungeon_entry' is new in this run"], True,
                 base_config=base, new_config=ctx.ow)
    if "reward/dungeon_entry" not in m["metrics"]:
        fail("(b): the resumed run's manifest has no reward/dungeon_entry metric")
    if "reward.dungeon_entry.memory" not in tensors(ckpt(ctx, "c", 5)):
        fail("(b): the resumed run saves no memory of dungeon_entry")


def num_envs(ctx):
    use_case(ctx, "(c) num_envs", [], ["env.num_envs=25"],
             ["~ env.num_envs: 5 -> 25", "env.num_envs changed from 5 to 25"], False)
    t = tensors(ckpt(ctx, "c", 5))
    if t["episode.numbers"][1] != [25] or t["rollout.obs"][1][0] != 25:
        fail("(c): the resumed run's state is not shaped for 25 envs: %r" %
             t["episode.numbers"][1])


def reward_param(ctx):
    use_case(ctx, "(d) reward parameter", [], ["rewards.0.params.new_room=30"],
             ["~ rewards[room_discovery].params.new_room: 20.0 -> 30.0",
              "reward term 'room_discovery' has new params"], False)


def episode_length(ctx):
    use_case(ctx, "(e) episode length", [], ["env.params.max_steps=150"],
             ["~ env.params.max_steps: 100 -> 150",
              "the env's params changed (env.params.max_steps)"], False)


def llm_probability(ctx):
    server = os.path.join(ctx.src, "tests", "llm", "server.py")
    port_file = os.path.join(ctx.work, "llm_port")
    p = subprocess.Popen([sys.executable, server, "--log", os.path.join(ctx.work, "llm.jsonl"),
                          "--port", "0", "--port-file", port_file, "--no-bodies"],
                         stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while not os.path.exists(port_file):
            if time.time() > deadline or p.poll() is not None:
                fail("the LLM test server did not start")
            time.sleep(0.01)
        url = "http://127.0.0.1:%s" % open(port_file).read().strip()

        def llm(prob):
            return ["llm=[{plugin: llm_text, probability: %s, params: {endpoint: \"%s\"}}]"
                    % (prob, url)]
        m = use_case(ctx, "(d) LLM probability", llm(0.02), llm(0.05),
                     ["~ llm[llm_text].probability: 0.02 -> 0.05"], True)
        if "reward/llm_text" not in m["metrics"]:
            fail("(d): no reward/llm_text metric in the resumed run's manifest")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()


# ---- refusals ----------------------------------------------------------------


def refused(ctx, label, config, sets, uri, needles):
    name = "refused_" + label.replace(" ", "_")
    log = train(ctx, config, name, sets, restore=uri, expect=3)
    for n in needles:
        if n not in log:
            fail("%s: exit 3 but the message lacks %r" % (label, n), log)
    if os.path.exists(os.path.join(ctx.work, name)):
        fail("%s: a refused restore created its run directory" % label)
    err = [l for l in log.splitlines() if l.startswith("gnarl: error:")]
    print("%s: exit 3: %s" % (label, err[-1] if err else "?"))


def copy_ckpt(ctx, src, name):
    dst = os.path.join(ctx.work, name, "checkpoints", os.path.basename(src))
    shutil.copytree(src, dst)
    return dst


def refusals(ctx):
    steps = 2 * per_iter(OW_SETS)
    train(ctx, ctx.ow, "ow", OW_SETS + ["ppo.total_steps=%d" % steps])
    ow2 = ckpt(ctx, "ow", 2)
    train(ctx, ctx.cp, "cp", CP_SETS + ["ppo.total_steps=1024"])
    cp2 = ckpt(ctx, "cp", 2)
    obs = manifest(ow2)["observation_size"]
    refused(ctx, "observation size", ctx.ow, OW_SETS + ["env.params.view_radius=3"], ow2,
            ["! observation size: %d -> " % obs, "~ env.params.view_radius: 2 -> 3",
             "cannot resume: observation size changed from %d to " % obs])
    refused(ctx, "action list", ctx.ow, OW_SETS, cp2,
            ['! action list: ["LEFT","RIGHT"] -> ["NOP","UP","DOWN","LEFT","RIGHT","A","B"]',
             '! env plugin: "cartpole" -> "overworld"', "cannot resume:"])
    refused(ctx, "hidden sizes", ctx.cp, CP_SETS + ["policy.hidden=[64, 32]"], cp2,
            ["cannot resume: network.hidden changed from [64,64] to [64,32]"])
    bad = copy_ckpt(ctx, cp2, "flipped")
    path = os.path.join(bad, "model.safetensors")
    blob = bytearray(open(path, "rb").read())
    blob[len(blob) // 2] ^= 0x01
    open(path, "wb").write(blob)
    refused(ctx, "flipped byte", ctx.cp, CP_SETS, bad,
            ["checksum mismatch in %s" % path, "the file is corrupt or was modified"])
    bad = copy_ckpt(ctx, cp2, "truncated")
    path = os.path.join(bad, "model.safetensors")
    blob = open(path, "rb").read()
    open(path, "wb").write(blob[:len(blob) - 1000])
    refused(ctx, "truncated file", ctx.cp, CP_SETS, bad,
            ["%s is %d bytes but the manifest says %d: the file is truncated"
             % (path, len(blob) - 1000, len(blob))])
    # Truncated with a manifest that agrees: the safetensors rules catch it.
    m = manifest(bad)
    short = blob[:len(blob) - 1000]
    m["files"]["model.safetensors"] = {"size": len(short),
                                       "sha256": hashlib.sha256(short).hexdigest()}
    open(os.path.join(bad, "manifest.json"), "w").write(json.dumps(m))
    refused(ctx, "truncated safetensors", ctx.cp, CP_SETS, bad, [path])
    bad = copy_ckpt(ctx, cp2, "nomanifest")
    os.remove(os.path.join(bad, "manifest.json"))
    refused(ctx, "missing manifest", ctx.cp, CP_SETS, bad, ["has no manifest.json"])
    refused(ctx, "missing path", ctx.cp, CP_SETS, os.path.join(ctx.work, "nothing", "here"),
            ["no checkpoint at %s" % os.path.join(ctx.work, "nothing", "here")])
    bad = copy_ckpt(ctx, cp2, "newer")
    m = manifest(bad)
    m["format_version"] = 99
    open(os.path.join(bad, "manifest.json"), "w").write(json.dumps(m))
    refused(ctx, "newer format", ctx.cp, CP_SETS, bad,
            ["has checkpoint format 99", "upgrade gnarl to restore it"])


# ---- crash safety -------------------------------------------------------------


def verify_latest(ctx):
    p = run(ctx, ["checkpoints", "show", "latest", "-c", ctx.cp, "--set",
                  "run.storage=" + ctx.work])
    if p.returncode != 0 or "verified (sizes, SHA-256, safetensors)" not in p.stdout:
        fail("latest does not verify (exit %d)" % p.returncode, p.stdout + p.stderr)
    return int([l for l in p.stdout.splitlines() if l.startswith("iteration")][0].split()[1])


TRIALS = 100


def crash(ctx):
    """SIGKILL `gnarl train` TRIALS times at a random moment of its saving
    (a checkpoint every iteration), each run resuming the last one's latest:
    latest always opens and verifies."""
    rng = random.Random(5)
    latest = os.path.join(ctx.work, "latest")
    kills, resumed, seen = 0, 0, []
    for trial in range(TRIALS):
        args = [ctx.gnarl, "train", "-c", ctx.cp, "--set", "run.storage=" + ctx.work,
                "--set", "run.name=k%02d" % trial, "--set", "ppo.total_steps=100000000",
                "--set", "checkpoint.every=1", "--set", "checkpoint.keep_last=3",
                "--set", "metrics.episodes=false", "--set", "log.every_seconds=0",
                # iterations far shorter than a save (a few steps, one epoch),
                # so a moment after the first save is most likely in one,
                # however slow the build (ASan) or busy the machine
                "--set", "ppo.rollout_steps=8", "--set", "ppo.minibatch_size=32",
                "--set", "ppo.epochs=1"]
        if os.path.exists(latest):
            args += ["--restore", "latest"]
            resumed += 1
        before = open(latest).read() if os.path.exists(latest) else None
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill once this run has saved, at a random moment of its saving.
        deadline = time.time() + 30
        while time.time() < deadline:
            now = open(latest).read() if os.path.exists(latest) else None
            if now and now != before:
                break
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.15))
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        seen.append(verify_latest(ctx))
    # Evidence that kills landed inside saves: a run whose newest checkpoint
    # directory has no manifest, or a temporary file of an unfinished put.
    mid = 0
    for trial in range(TRIALS):
        d = os.path.join(ctx.work, "k%02d" % trial, "checkpoints")
        names = sorted(n for n in os.listdir(d) if n.startswith("checkpoint_")) \
            if os.path.isdir(d) else []
        tmp = any(".gnarl-tmp." in f for _, _, fs in os.walk(os.path.join(ctx.work,
                  "k%02d" % trial)) for f in fs)
        if tmp or (names and not os.path.exists(os.path.join(d, names[-1],
                                                            "manifest.json"))):
            mid += 1
    if mid < 10:
        fail("only %d of %d kills landed during a save: the test does not exercise saves"
             % (mid, TRIALS))
    print("crash: %d SIGKILLs (%d runs resumed from latest, %d killed mid-save): latest "
          "verified after every one, at iterations %s" % (kills, resumed, mid, seen))


# ---- a failing store ------------------------------------------------------------


def wait_for(path, needle, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and needle in open(path).read():
            return
        time.sleep(0.01)
    fail("no %r in the log after %d s" % (needle, timeout), open(path).read())


def save_failure(ctx):
    run_dir = os.path.join(ctx.work, "f")
    os.makedirs(run_dir)
    blocker = os.path.join(run_dir, "checkpoints")
    open(blocker, "w").write("a file where the checkpoints directory goes\n")
    log = os.path.join(ctx.work, "f.log")
    args = [ctx.gnarl, "train", "-c", ctx.cp, "--set", "run.storage=" + ctx.work,
            "--set", "run.name=f", "--set", "ppo.total_steps=100000000",
            "--set", "checkpoint.every=2", "--set", "metrics.episodes=false", "--set", "log.every_seconds=0"]
    with open(log, "w") as out:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=out)
        try:
            wait_for(log, "NOT saved (2 in a row)")
            p.send_signal(signal.SIGSTOP)
            os.remove(blocker)
            p.send_signal(signal.SIGCONT)
            wait_for(log, "saving works again after")
            p.send_signal(signal.SIGTERM)
            code = p.wait(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    text = open(log).read()
    if code != 0:
        fail("exit %d after SIGTERM" % code, text)
    lines = text.splitlines()
    its = [int(l.split()[1]) for l in lines if l.startswith("iter ")]
    failed = [l for l in lines if "NOT saved" in l]
    again = [i for i, l in enumerate(lines) if "saving works again" in l][0]
    first_ok = [l for l in lines[:again] if l.startswith("gnarl[checkpoint]: saved")]
    if len(failed) < 2 or len(first_ok) != 1 or its != list(range(1, len(its) + 1)):
        fail("training did not go on through the failed saves", text)
    if "Not a directory" not in text:
        fail("the failed save's cause is not logged", text)
    last = verify_latest(ctx)
    if last != its[-1]:
        fail("latest is iteration %d, the run stopped after %d" % (last, its[-1]), text)
    print("save_failure: %d saves failed and were logged, training went on, saving resumed "
          "(%s); stopped by SIGTERM after iteration %d, saved and verified" % (
              len(failed), first_ok[0].split("saved ")[1], its[-1]))


# ---- commands -------------------------------------------------------------------


def cmd(ctx, *args, expect=0, env=None):
    p = run(ctx, ["checkpoints"] + list(args) + ["--set", "run.storage=" + ctx.work], env)
    if p.returncode != expect:
        fail("gnarl checkpoints %s: exit %d" % (" ".join(args), p.returncode),
             p.stdout + p.stderr)
    return p.stdout


def commands(ctx):
    sets = CP_SETS + ["checkpoint.keep_last=10", "ppo.total_steps=2048"]
    train(ctx, ctx.cp, "r", sets)
    out = cmd(ctx, "list", "r", "-c", ctx.cp)
    rows = [l for l in out.splitlines() if "checkpoint_0000" in l]
    if len(rows) != 4 or not rows[-1].startswith("*"):
        fail("list: expected 4 checkpoints, the last marked latest", out)
    show = cmd(ctx, "show", ckpt(ctx, "r", 2), "-c", ctx.cp)
    for n in ("verified", "iteration        2", "ep_return_mean", "cartpole", "sha256"):
        if n not in show:
            fail("show lacks %r" % n, show)
    j = json.loads(cmd(ctx, "show", ckpt(ctx, "r", 2), "--json", "-c", ctx.cp))
    if j["iteration"] != 2 or j["actions"] != ["LEFT", "RIGHT"]:
        fail("show --json: %r" % j)
    out = cmd(ctx, "diff", ckpt(ctx, "r", 2), "-c", ctx.cp, "--set", "env.num_envs=8",
              "--set", "ppo.learning_rate=1e-4")
    for n in ("~ env.num_envs: 4 -> 8", "~ ppo.learning_rate: 0.00025 -> 0.0001"):
        if n not in out:
            fail("diff lacks %r" % n, out)
    out = cmd(ctx, "diff", ckpt(ctx, "r", 2), "-c", ctx.ow, expect=3)
    if "! observation size: 4 -> " not in out or "! action list:" not in out:
        fail("diff with the overworld config does not refuse obs size and actions", out)
    cmd(ctx, "tag", ckpt(ctx, "r", 2), "good_one", "-c", ctx.cp)
    out = cmd(ctx, "list", "-c", ctx.cp)
    if not any("good_one" in l and "checkpoint_000002" in l for l in out.splitlines()):
        fail("list does not show the tag", out)
    # latest and tag:NAME, and which of flag, env var, config wins.
    log = train(ctx, ctx.cp, "t1", CP_SETS + ["ppo.total_steps=3072"], restore="tag:good_one")
    if "(iteration 2)" not in log or first_iteration(log) != 3:
        fail("restore tag:good_one", log)
    log = train(ctx, ctx.cp, "t2", CP_SETS + ["ppo.total_steps=3584"], restore="latest")
    if "t1/checkpoints/checkpoint_000006 (iteration 6)" not in log:
        fail("restore latest did not take the newest checkpoint of the root", log)
    r1, r3 = ckpt(ctx, "r", 1), ckpt(ctx, "r", 3)
    log = train(ctx, ctx.cp, "p1", CP_SETS + ["ppo.total_steps=4096", "restore=" + r1],
                env={"RESTORE_CHECKPOINT": r3})
    if "RESTORING from checkpoint: %s (iteration 3)" % r3 not in log:
        fail("RESTORE_CHECKPOINT should win over restore:", log)
    log = train(ctx, ctx.cp, "p2", CP_SETS + ["ppo.total_steps=4096", "restore=" + r1])
    if "RESTORING from checkpoint: %s (iteration 1)" % r1 not in log:
        fail("restore: in the config was not used", log)
    log = train(ctx, ctx.cp, "p3", CP_SETS + ["ppo.total_steps=4096", "restore=" + r1],
                restore=ckpt(ctx, "r", 2), env={"RESTORE_CHECKPOINT": r3})
    if "(iteration 2)" not in log:
        fail("--restore should win over RESTORE_CHECKPOINT and restore:", log)
    log = train(ctx, ctx.cp, "fresh", CP_SETS + ["ppo.total_steps=512"])
    if "starting fresh" not in log:
        fail("a run without restore does not say it starts fresh", log)
    tagged_survives(ctx)
    print("commands: list, show (text and --json), diff (allowed and refused), tag; "
          "restore from tag:NAME and latest; --restore > RESTORE_CHECKPOINT > restore:")


def tagged_survives(ctx):
    """A tag taken while the run goes on protects its checkpoint from retention."""
    args = [ctx.gnarl, "train", "-c", ctx.cp, "--set", "run.storage=" + ctx.work,
            "--set", "run.name=keep", "--set", "ppo.total_steps=100000000",
            "--set", "checkpoint.every=1", "--set", "checkpoint.keep_last=2",
            "--set", "checkpoint.keep_best=false", "--set", "metrics.episodes=false",
            "--set", "log.every_seconds=0"]
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        c2 = os.path.join(ckpt(ctx, "keep", 2), "manifest.json")
        while not os.path.exists(c2):
            time.sleep(0.001)
        p.send_signal(signal.SIGSTOP)
        stopped = ckpt(ctx, "keep", 2)
        if not os.path.exists(c2):
            p.send_signal(signal.SIGCONT)
            fail("checkpoint 2 was pruned before the run could be paused")
        cmd(ctx, "tag", stopped, "mid_run", "-c", ctx.cp)
        p.send_signal(signal.SIGCONT)
        c8 = os.path.join(ckpt(ctx, "keep", 8), "manifest.json")
        while not os.path.exists(c8):
            time.sleep(0.005)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    left = sorted(os.listdir(os.path.join(ctx.work, "keep", "checkpoints")))
    if "checkpoint_000002" not in left or "checkpoint_000003" in left:
        fail("retention with keep_last 2 and a tag on checkpoint 2 left %r" % left)


# ---- S3 ------------------------------------------------------------------------


class Proxy:
    """A TCP relay to the S3 gateway that can be cut (every connection closed,
    new ones refused) and restored: the store "goes down" mid-run."""

    def __init__(self, host, port):
        self.up = (host, port)
        self.down = False
        self.conns = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.down:
                c.close()
                continue
            try:
                u = socket.create_connection(self.up)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self, down):
        self.down = down
        if down:
            with self.lock:
                for x in self.conns:
                    try:
                        x.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                self.conns = []


def s3_env():
    path = os.environ.get("GNARL_S3_ENV")
    if not path or not os.path.exists(path):
        cannot_run("GNARL_S3_ENV is not set (run through ctest, which starts the fixture)")
    env = {}
    for line in open(path):
        if "=" in line:
            k, v = line.strip().split("=", 1)
            env[k] = shlex.split(v)[0] if v else ""
    if "GNARL_S3_SKIP" in env:
        cannot_run(env["GNARL_S3_SKIP"])
    return env


def s3(ctx):
    """Checkpoints in S3 (the fixture's Ceph gateway): saved by a run, listed,
    tagged, restored by s3:// URI, latest and tag:NAME; and a gateway that goes
    down mid-run costs checkpoints, never the run."""
    env = s3_env()
    bucket = "gnarl-resume-%d" % os.getpid()
    endpoint = env["S3_ENDPOINT_URL"]
    host, port = endpoint.split("//")[1].split(":")
    proxy = Proxy(host, int(port.rstrip("/")))
    keys = {"S3_ACCESS_KEY_ID": env["S3_ACCESS_KEY_ID"],
            "S3_SECRET_ACCESS_KEY": env["S3_SECRET_ACCESS_KEY"],
            "S3_REGION_NAME": env.get("S3_REGION_NAME", "us-east-1")}
    root = "s3://%s/runs" % bucket

    def st(endpoint_url):
        return ["storage.s3.endpoint=" + endpoint_url, "storage.s3.create_bucket=true",
                "storage.s3.max_retries=0", "storage.s3.connect_timeout_ms=500",
                "storage.s3.timeout_ms=30000"]
    direct = st(endpoint)

    def s3train(name, sets, restore=None, storage=root, expect=0):
        args = ["train", "-c", ctx.cp, "--set", "run.storage=" + storage,
                "--set", "run.name=" + name, "--set", "log.every_seconds=0"]
        for x in CP_SETS + direct + sets:
            args += ["--set", x]
        if restore:
            args += ["--restore", restore]
        p = run(ctx, args, keys)
        if p.returncode != expect:
            fail("gnarl %s: exit %d" % (" ".join(args), p.returncode), p.stderr)
        return p.stderr

    s3train("a", ["ppo.total_steps=2048"])
    a2 = "%s/a/checkpoints/checkpoint_000002" % root
    p = run(ctx, ["checkpoints", "list", root + "/a", "-c", ctx.cp] +
            sum((["--set", x] for x in direct), []), keys)
    rows = [l for l in p.stdout.splitlines() if "checkpoint_0000" in l]
    if p.returncode != 0 or len(rows) != 4 or not rows[-1].startswith("*"):
        fail("checkpoints list on S3: %d rows" % len(rows), p.stdout + p.stderr)
    # An S3 checkpoint resumed into a local run.
    log = s3train("local", ["ppo.total_steps=3072"], restore=a2, storage=ctx.work)
    if "RESTORING from checkpoint: %s (iteration 2)" % a2 not in log or \
            first_iteration(log) != 3:
        fail("restore from %s" % a2, log)
    if manifest(ckpt(ctx, "local", 6))["parent"] != a2:
        fail("the local run's manifest does not name the S3 checkpoint as parent")
    log = s3train("b", ["ppo.total_steps=2560"], restore="latest")
    if "a/checkpoints/checkpoint_000004 (iteration 4)" not in log or first_iteration(log) != 5:
        fail("restore latest in the S3 root", log)
    p = run(ctx, ["checkpoints", "tag", a2, "s3_tag", "-c", ctx.cp] +
            sum((["--set", x] for x in direct), []), keys)
    if p.returncode != 0:
        fail("checkpoints tag on S3", p.stderr)
    log = s3train("c", ["ppo.total_steps=1536"], restore="tag:s3_tag")
    if "(iteration 2)" not in log or first_iteration(log) != 3:
        fail("restore tag:s3_tag", log)
    outage(ctx, proxy, keys, root, st("http://127.0.0.1:%d" % proxy.port))
    print("s3: saved to %s, listed, tagged; restored by s3:// URI (into a local run), "
          "latest and tag:NAME" % root)


def outage(ctx, proxy, keys, root, sets):
    log = os.path.join(ctx.work, "outage.log")
    args = [ctx.gnarl, "train", "-c", ctx.cp, "--set", "run.storage=" + root,
            "--set", "run.name=outage", "--set", "ppo.total_steps=100000000",
            "--set", "checkpoint.every=2", "--set", "metrics.episodes=false", "--set", "log.every_seconds=0"]
    for x in sets:
        args += ["--set", x]
    e = dict(os.environ)
    e.update(keys)
    with open(log, "w") as out:
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=out, env=e)
        try:
            wait_for(log, "gnarl[checkpoint]: saved")
            proxy.cut(True)
            wait_for(log, "NOT saved (2 in a row)")
            proxy.cut(False)
            wait_for(log, "saving works again after")
            p.send_signal(signal.SIGTERM)
            code = p.wait(timeout=120)
        finally:
            proxy.cut(False)
            if p.poll() is None:
                p.kill()
                p.wait()
    text = open(log).read()
    its = [int(l.split()[1]) for l in text.splitlines() if l.startswith("iter ")]
    if code != 0 or its != list(range(1, len(its) + 1)):
        fail("the run did not go on through the outage (exit %d)" % code, text)
    p = run(ctx, ["checkpoints", "show", root + "/outage", "-c", ctx.cp] +
            sum((["--set", x] for x in sets), []), keys)
    if p.returncode != 0 or "iteration        %d" % its[-1] not in p.stdout:
        fail("the outage run's latest checkpoint is not its last iteration %d" % its[-1],
             p.stdout + p.stderr)
    why = [l for l in text.splitlines() if l.startswith("gnarl[checkpoint]: error:")]
    print("s3 outage: the gateway was cut mid-run, %d saves failed and were logged (%s), the "
          "run went on and saved again when it came back; stopped after iteration %d, whose "
          "checkpoint verifies" % (text.count("NOT saved"), why[0] if why else "?", its[-1]))


def main():
    mode, gnarl, src, work = sys.argv[1:5]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ctx = Ctx(gnarl, src, work)
    modes = {f.__name__: f for f in (exact_cartpole, exact_overworld, exact_gameboy, abi_1_0,
                                     legacy_memory, reweight,
                                     add_term, num_envs, reward_param, llm_probability,
                                     episode_length, refusals, crash, save_failure,
                                     commands, s3)}
    modes[mode](ctx)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
