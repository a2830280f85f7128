#!/usr/bin/python3
"""The gameboy path through the gnarl command, on the free test cartridge.

Usage: gameboy_cli.py MODE GNARL SOURCE_DIR WORKDIR
  (GNARL_TEST_ROM names the built cartridge, GNARL_PLUGIN_PATH the plugins)

  peek   `gnarl gb peek`: the JSON's raw bytes decode (independently, here) to
         the values printed next to them; the action sequence, --frames and
         --seed do what they say; the collision map and enemy slot are those
         of the room reached; --png writes a 160x144 RGB PNG; --save-state
         writes a gnarl state of the emulator under test (GNARL_EMULATOR)
         that starts episodes there as env.params.save_state; the text output
         shows address and bytes; the overworld (no RAM map) works; a missing
         ROM, a bad RAM map, an unknown action, an env without game state and
         a bad command line fail with the documented exit codes and messages.
  check  `gnarl gb check`: passes on the cartridge's map, walking every edge of
         the start room; a wrong address exits 2 naming the field and its
         address (and stops any other use of the env the same way).
  train  `gnarl train -c configs/test-cartridge.yaml` on a small budget: exit
         0; config.yaml, progress.csv, the event file and episode summaries
         written; one CSV row per iteration up to the budget; the
         room_discovery and combat terms paid out (> 0); the agent learns
         (dungeon entries per episode and mean return rise by a fifth or more
         between the second and the last quarter of the run: the run is
         deterministic for its seed; seeds 1-3 rise by 35-2000%).  Prints the env's frames/s under
         the trainer (sps x gameboy/frames_per_step) for the record: speed is
         measured, not judged, here.
"""
import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib


def run(gnarl, *args, expect=0):
    p = subprocess.run([gnarl] + list(args), capture_output=True, text=True)
    if expect is not None and p.returncode != expect:
        raise SystemExit("gnarl %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                         % (" ".join(args), p.returncode, expect, p.stdout[-3000:],
                            p.stderr[-3000:]))
    return p


def check(cond, what):
    if not cond:
        raise SystemExit("FAILED: " + what)


# --------------------------------------------------------------------------
# peek

def decode(raw, notes):
    """The value a RAM-map entry's bytes stand for (little-endian)."""
    b = bytes.fromhex(raw.replace(" ", ""))
    n = int.from_bytes(b, "little")
    if "= none" in notes:
        none = int(notes.split("= none")[0].split()[-1], 16)
        if n == none:
            return -1
    if notes.startswith("bcd") or "; bcd" in notes:
        v = 0
        for byte in reversed(b):
            v = v * 100 + (byte >> 4) * 10 + (byte & 15)
        return v
    return n


def peek_json(gnarl, config, *args, expect=0):
    p = run(gnarl, "gb", "peek", "-c", config, "--json", *args, expect=expect)
    return json.loads(p.stdout) if expect == 0 else p


def check_fields(doc):
    """Every mapped field's bytes decode to its printed value."""
    mapped = 0
    for name, f in doc["fields"].items():
        if name == "treasures" or "raw" not in f or f["raw"] == "-":
            continue
        want = decode(f["raw"], f.get("notes", ""))
        if name in ("text_active", "menu_open"):
            want = int(want != 0)
        if name == "direction":
            want &= 3
        check(want == f["value"], "%s: bytes %s decode to %d, peek says %d"
              % (name, f["raw"], want, f["value"]))
        mapped += 1
    check(mapped >= 15, "only %d fields carry raw bytes" % mapped)


def png_size(path):
    data = open(path, "rb").read()
    check(data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % path)
    width, height, depth, ctype = struct.unpack(">IIBB", data[16:26])
    # The image data inflates to height rows of (1 + 3 * width) bytes.
    idat, pos = b"", 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    check(len(zlib.decompress(idat)) == height * (1 + 3 * width), "PNG data size")
    return width, height, depth, ctype


def peek(gnarl, source, work):
    cart = os.path.join(source, "configs", "test-cartridge.yaml")
    overworld = os.path.join(source, "configs", "env.yaml")
    still = "--set=env.params.reset_noop_max=0"

    # The start of a game, then five steps right: room $12 and its enemy.
    d = peek_json(gnarl, cart, still)
    check(d["env"] == "gameboy" and d["steps"] == 0 and d["frame"] == 0, "start: %r" % d)
    check(d["fields"]["room"]["value"] == 0x11 and d["fields"]["x"]["value"] == 80,
          "start room/x")
    check_fields(d)
    check(d["fields"]["x"]["address"] == "$D00D" and d["fields"]["x"]["bank"] == 1,
          "x's address")
    check(d["fields"]["rupees"]["raw"] == "99 00" and d["fields"]["rupees"]["value"] == 99,
          "rupees in BCD")
    check(d["fields"]["dungeon"]["value"] == -1 and d["fields"]["keys"]["raw"] == "-",
          "outside a dungeon, keys have no entry")
    check(d["collisions"]["rows"][0] == "####..####" and d["collisions"]["rows"][4][5] == "L",
          "start room's collisions: %r" % d["collisions"]["rows"])
    check(d["enemies"] == [], "no enemy in the start room")
    check(d["gauges"]["gameboy/frames_per_step"] == 16, "frames_per_step gauge")

    png = os.path.join(work, "room12.png")
    d = peek_json(gnarl, cart, still, "--actions", "RIGHT*5, nop", "--png", png)
    # The step through the edge waits out the 24-frame screen transition in
    # whole steps (wait_for_control): two more steps' worth of frames.
    check(d["steps"] == 6 and d["frame"] == 96 + 32, "6 steps of 16 frames and the "
          "transition's 32: %r" % d["frame"])
    check(d["fields"]["room"]["value"] == 0x12, "five steps right reach room $12")
    check_fields(d)
    rows = d["collisions"]["rows"]
    check(len(rows) == 8 and all(len(r) == 10 for r in rows), "10x8 collision map")
    check(sum(r.count("L") for r in rows) == 1 and sum(r.count("E") for r in rows) == 1,
          "Link and the enemy on the map: %r" % rows)
    check(len(d["enemies"]) == 1 and d["enemies"][0]["id"] == 9 and
          d["enemies"][0]["slot"] == 0, "the enemy's slot: %r" % d["enemies"])
    check(png_size(png) == (160, 144, 8, 2), "PNG is 160x144 RGB")

    # Into the dungeon: keys come from the entry of dungeon 0.
    d = peek_json(gnarl, cart, still, "--actions", "UP*5,LEFT,UP*4")
    check(d["fields"]["group"]["value"] == 4 and d["fields"]["dungeon"]["value"] == 0,
          "the door leads into dungeon 0")
    check(d["fields"]["keys"]["address"] == "$C66E", "keys[0] at $C66E")
    check_fields(d)

    # --frames steps NOP until that many frames; the seed draws the no-ops.
    d = peek_json(gnarl, cart, "--frames", "100", "--seed", "3")
    k = d["frame"] - 16 * d["steps"]
    check(0 <= k <= 30 and d["frame"] >= 100 and d["frame"] - 16 < 100,
          "--frames 100: frame %d after %d steps" % (d["frame"], d["steps"]))
    again = peek_json(gnarl, cart, "--frames", "100", "--seed", "3")
    check(again == d, "the same seed gives the same state")

    # The time limit ends the play, and the output says so.
    d = peek_json(gnarl, cart, still, "--set", "env.params.max_steps=3", "--actions", "NOP*9")
    check(d["steps"] == 3 and d["episode_ended"] == "truncated", "max_steps ends the play")

    # Text: every field on its own line with address and bytes.
    p = run(gnarl, "gb", "peek", "-c", cart, still)
    for needle in ("rupees", "$C6A5", "99 00", "$D00D bank 1", "collisions at $CE00",
                   "enemy slots at $D080 bank 1", "gameboy/frames_per_step"):
        check(needle in p.stdout, "text output lacks %r:\n%s" % (needle, p.stdout))

    # An env without a RAM map still prints its decoded state.
    d = peek_json(gnarl, overworld, "--frames", "5", "--png", os.path.join(work, "ow.png"))
    check(d["env"] == "overworld" and d["steps"] == 5 and d["frame"] == 5, "overworld: %r" % d)
    check(all("address" not in f for f in d["fields"].values()), "overworld has no addresses")
    check(png_size(os.path.join(work, "ow.png"))[:2] == (160, 144), "overworld PNG")

    # Errors: what, where, and the exit code.
    for args, code, needles in [
        (["--set", "env.params.rom=/nonexistent/zelda.gbc"], 2,
         ["params.rom", "/nonexistent/zelda.gbc"]),
        (["--set", "env.params.ram_map.health={address: 0xE000}"], 2,
         ["ram_map.health", "outside work RAM"]),
        (["--actions", "RIGHT,JUMP"], 2, ["unknown action 'JUMP'", "NOP, UP, DOWN"]),
        (["--actions", "RIGHT*0"], 2, ["count"]),
        (["--frames", "-4"], 2, ["--frames"]),
        (["--bogus"], 2, ["unknown option --bogus"]),
    ]:
        p = run(gnarl, "gb", "peek", "-c", cart, *args, expect=code)
        for n in needles:
            check(n in p.stderr, "%r: stderr lacks %r:\n%s" % (args, n, p.stderr))
    p = run(gnarl, "gb", "peek", "-c", os.path.join(source, "configs", "cartpole.yaml"),
            expect=1)
    check("fills no game state" in p.stderr, "cartpole refused: " + p.stderr)
    p = run(gnarl, "gb", "-c", cart, expect=2)
    check("peek" in p.stderr, "no subcommand")
    p = run(gnarl, "gb", "--help")
    check("usage: gnarl gb peek" in p.stdout and "gnarl gb check" in p.stdout, "help")

    # The large room: 15 x 11 tiles at the game's size, typed tiles.
    d = peek_json(gnarl, cart, still, "--actions", "UP*8,LEFT,UP*3,RIGHT*9")
    rows = d["collisions"]["rows"]
    check(d["fields"]["room"]["value"] == 6 and len(rows) == 11 and
          all(len(r) == 15 for r in rows), "the large room's map: %r" % rows)
    check(rows[2][3] == "~" and rows[5][5] == "=" and rows[2][10] == "+",
          "water, bridge and half walls: %r" % rows)
    d = peek_json(gnarl, cart, still, "--actions", "UP*8,LEFT")
    check(d["collisions"]["rows"][2][3:5] == "DD", "the cave door: %r" % d["collisions"])

    # --save-state: the state reached, loadable as env.params.save_state.
    state = os.path.join(work, "room12.gbstate")
    d = peek_json(gnarl, cart, still, "--actions", "RIGHT*5,NOP*2", "--save-state", state)
    check(d["saved_state"] == state, "state written: %r" % d.get("saved_state"))
    with open(state, "rb") as f:
        blob = f.read()
    # A gnarl state (gameboy_state.c): "GBST", version 2, one env, a 128-byte
    # header naming the emulator and the cartridge, then the env's counters
    # and one emulator state of the size the header gives.
    magic, version, n_envs, header, size = struct.unpack("<4sIIIQ", blob[:24])
    emulator = os.environ.get("GNARL_EMULATOR") or "libmgba"
    check(magic == b"GBST" and version == 2 and n_envs == 1 and header == 128 and
          size > 10000 and len(blob) == 128 + 16 + size, "state's header: %r, %d bytes"
          % ((magic, version, n_envs, header, size), len(blob)))
    check(blob[24:56].rstrip(b"\0") == emulator.encode() and
          blob[88:104].rstrip(b"\0") == b"GNARLTEST", "state's emulator and title: %r"
          % blob[24:104])
    e = peek_json(gnarl, cart, still, "--set", "env.params.save_state=" + state)
    check(e["fields"]["room"]["value"] == 0x12 and
          e["fields"]["x"]["value"] == d["fields"]["x"]["value"],
          "the saved state is the start: %r" % e["fields"]["room"])
    p = run(gnarl, "gb", "peek", "-c", cart, "--save-state", "/nonexistent/dir/x.gbstate",
            expect=1)
    check("cannot write '/nonexistent/dir/x.gbstate'" in p.stderr, p.stderr)
    print("peek: OK")


def check_cmd(gnarl, source, work):
    """`gnarl gb check`: the full self-check; a wrong address exits 2."""
    cart = os.path.join(source, "configs", "test-cartridge.yaml")
    p = run(gnarl, "gb", "check", "-c", cart)
    check("self-check of the RAM map passed" in p.stdout, p.stdout)
    for edge in ("UP", "RIGHT", "DOWN", "LEFT"):
        check("out through the %s edge of room $11" % edge in p.stderr,
              "edge %s not walked:\n%s" % (edge, p.stderr))
    d = json.loads(run(gnarl, "gb", "check", "-c", cart, "--json").stdout)
    check(d["self_check"] == "passed" and d["fields"]["room"]["value"] == 0x11, "json")
    for key, needle in [("x.address=0xD00C", "x ($D00C bank 1)"),
                        ("room.address=0xCC4D", "room ($CC4D)"),
                        ("transition.idle=0", "transition ($CD00)")]:
        p = run(gnarl, "gb", "check", "-c", cart, "--set", "env.params.ram_map." + key,
                expect=2)
        check(needle in p.stderr and "self-check of params.ram_map failed" in p.stderr,
              "%s: %s" % (key, p.stderr))
        # and the same at the start of any run of the env
        run(gnarl, "gb", "peek", "-c", cart, "--set", "env.params.ram_map." + key, expect=2)
    p = run(gnarl, "gb", "check", "-c", os.path.join(source, "configs", "env.yaml"), expect=1)
    check("has no self-check" in p.stderr, p.stderr)
    p = run(gnarl, "gb", "check", "-c", cart, "--actions", "UP", expect=2)
    check("check takes -c, --set and --json only" in p.stderr, p.stderr)
    print("check: OK")


# --------------------------------------------------------------------------
# train

# The config's own settings (configs/test-cartridge.yaml), on 40% of its
# budget: 40 iterations of 16 envs x 64 steps.
N_ENVS, HORIZON, TOTAL = 16, 64, 40960
TRAIN_SETS = ["env.num_envs=%d" % N_ENVS, "ppo.rollout_steps=%d" % HORIZON,
              "ppo.total_steps=%d" % TOTAL, "env.threads=2"]


def mean(rows, key):
    vals = [float(r[key]) for r in rows if r.get(key, "") != ""]
    return sum(vals) / len(vals) if vals else float("nan")


def train(gnarl, source, work):
    cart = os.path.join(source, "configs", "test-cartridge.yaml")
    name = "cartridge"
    args = ["train", "-c", cart, "--set", "run.storage=" + work, "--set", "run.name=" + name]
    for s in TRAIN_SETS:
        args += ["--set", s]
    p = run(gnarl, *args)
    rundir = os.path.join(work, name)
    for f in ("config.yaml", "progress.csv"):
        check(os.path.isfile(os.path.join(rundir, f)), "run wrote " + f)
    check(any(f.startswith("events.out.tfevents.") for f in os.listdir(rundir)),
          "run wrote TensorBoard events")
    episodes = []
    for root, _, files in os.walk(os.path.join(rundir, "workers")):
        for f in files:
            with open(os.path.join(root, f)) as fh:
                episodes += [json.loads(line) for line in fh if line.strip()]
    check(len(episodes) > 50, "episode summaries written (%d)" % len(episodes))

    with open(os.path.join(rundir, "progress.csv")) as f:
        rows = list(csv.DictReader(f))
    check(len(rows) == TOTAL // (N_ENVS * HORIZON), "%d rows" % len(rows))
    check(int(rows[-1]["env_steps"]) == TOTAL, "the run did its budget")
    for term in ("reward/room_discovery", "reward/combat"):
        check(term in rows[0], "progress.csv has " + term)
        check(max(float(r[term]) for r in rows if r[term]) > 0, term + " paid out")
    fps_step = float(rows[-1]["gameboy/frames_per_step"])
    check(fps_step == 16, "frames_per_step gauge in progress.csv")

    # Learning, in the per-episode means (over the last 100 episodes) of the
    # second and the last quarter of the run (the first fills the window).
    q = len(rows) // 4
    first, last = rows[q:2 * q], rows[-q:]
    for key in ("dungeons_entered", "ep_return_mean"):
        a, b = mean(first, key), mean(last, key)
        print("%-18s %8.3f -> %8.3f" % (key, a, b))
        check(b > a * 1.2, "%s rises over the run (%.3f -> %.3f)" % (key, a, b))
    sps = sorted(float(r["sps"]) for r in rows[1:])
    print("env under the trainer: %.0f steps/s, %.0f frames/s (median over iterations; "
          "2 env threads, learner included)" % (sps[len(sps) // 2],
                                                 sps[len(sps) // 2] * fps_step))
    for k in ("rooms_discovered", "enemies_killed"):
        print("%-18s %8.3f -> %8.3f" % (k, mean(first, k), mean(last, k)))
    print("train: OK")


def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    mode, gnarl, source, work = sys.argv[1:]
    if not os.environ.get("GNARL_TEST_ROM"):
        raise SystemExit("GNARL_TEST_ROM is not set")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    {"peek": peek, "check": check_cmd, "train": train}[mode](gnarl, source, work)


if __name__ == "__main__":
    main()
