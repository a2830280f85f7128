#!/usr/bin/python3
"""The real game: Oracle of Seasons (US) from the user's own ROM, opt-in.

Usage: real_rom.py GNARL SOURCE_DIR WORKDIR
  GNARL_OOS_ROM names the cartridge image; unset, this prints one line and
  exits 77 (CTest's skip): the project ships no ROM and CI has none.

What is checked, with only the ROM:
  - configs/oracle-of-seasons.yaml boots to free play: `gnarl gb check`
    passes (every field in range, the joypad moves Link, the edges of room
    $B6 change the room) and the start is Horon Village in winter (group 0,
    room $B6, season 3, 3 hearts, no text box, no menu);
  - a second start is the cached end state, byte for byte the same fields;
  - one wrong address stops the check with exit 2 naming the field;
  - oracle-of-seasons-heros-cave.boot reaches the Hero's Cave: group 4,
    dungeon 0, a large room (15 x 11 tiles in the collision map) whose
    edges the self-check walks through;
  - `gnarl gb peek --save-state` writes a start loadable as save_state;
  - a short `gnarl train` runs from free play and writes its start state
    into the run (gameboy/start.gbstate).
"""
import json
import os
import shutil
import subprocess
import sys


def run(gnarl, *args, expect=0, env=None):
    p = subprocess.run([gnarl] + list(args), capture_output=True, text=True, env=env)
    if expect is not None and p.returncode != expect:
        raise SystemExit("gnarl %s: exit %d, expected %d\nstdout:\n%s\nstderr:\n%s"
                         % (" ".join(args), p.returncode, expect, p.stdout[-3000:],
                            p.stderr[-3000:]))
    return p


def check(cond, what):
    if not cond:
        raise SystemExit("FAILED: " + what)


def value(doc, name):
    return doc["fields"][name]["value"]


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    gnarl, source, work = sys.argv[1:]
    rom = os.environ.get("GNARL_OOS_ROM")
    if not rom:
        print("skipped: GNARL_OOS_ROM is not set (the real-ROM checks need your own "
              "Oracle of Seasons image)")
        sys.exit(77)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    env = dict(os.environ, GNARL_CACHE_DIR=os.path.join(work, "cache"))
    cfg = os.path.join(source, "configs", "oracle-of-seasons.yaml")

    p = run(gnarl, "gb", "check", "-c", cfg, "--json", env=env)
    d = json.loads(p.stdout)
    check("replaying boot file" in p.stderr and "end state written" in p.stderr,
          "the first start replays the boot file: " + p.stderr[-2000:])
    check(d["self_check"] == "passed", "self-check")
    check((value(d, "group"), value(d, "room"), value(d, "season")) == (0, 0xB6, 3),
          "free play in Horon Village in winter: %r" % d["fields"])
    check(value(d, "health") == 12 and value(d, "max_health") == 12, "three hearts")
    check(value(d, "text_active") == 0 and value(d, "menu_open") == 0, "in control")
    check(d["collisions"]["width"] == 10 and d["collisions"]["height"] == 8, "a small room")
    check("out through the" in p.stderr, "an edge walked: " + p.stderr[-2000:])

    p = run(gnarl, "gb", "check", "-c", cfg, "--json", env=env)
    again = json.loads(p.stdout)
    check("(cached:" in p.stderr, "the second start is cached: " + p.stderr[-1000:])
    check(again["fields"] == d["fields"], "the cached start is the replayed one")

    p = run(gnarl, "gb", "check", "-c", cfg, "--set", "env.params.ram_map.x.address=0xD00C",
            expect=2, env=env)
    check("x ($D00C bank 1)" in p.stderr, "a wrong x named: " + p.stderr[-1000:])

    p = run(gnarl, "gb", "check", "-c", cfg, "--json", "--set",
            "env.params.boot=oracle-of-seasons-heros-cave.boot", env=env)
    cave = json.loads(p.stdout)
    check((value(cave, "group"), value(cave, "room"), value(cave, "dungeon")) == (4, 4, 0),
          "the Hero's Cave: %r" % cave["fields"])
    rows = cave["collisions"]["rows"]
    check(len(rows) == 11 and all(len(r) == 15 for r in rows),
          "the cave's first room is 15 x 11: %r" % rows)
    check("out through the RIGHT edge of room $04, in room $05" in p.stderr,
          "the large room's east edge: " + p.stderr[-2000:])

    state = os.path.join(work, "c6.gbstate")
    d = json.loads(run(gnarl, "gb", "peek", "-c", cfg, "--json", "--actions", "DOWN*12",
                       "--save-state", state, env=env).stdout)
    check(value(d, "room") == 0xC6, "twelve steps south: room $C6")
    e = json.loads(run(gnarl, "gb", "peek", "-c", cfg, "--json", "--set",
                       "env.params.save_state=" + state, env=env).stdout)
    check(value(e, "room") == 0xC6, "the saved state starts episodes in $C6")

    runs = os.path.join(work, "runs")
    run(gnarl, "train", "-c", cfg, "--set", "run.storage=" + runs, "--set", "run.name=r",
        "--set", "env.num_envs=2", "--set", "ppo.rollout_steps=64", "--set",
        "ppo.minibatch_size=64", "--set", "ppo.total_steps=128", env=env)
    start = os.path.join(runs, "r", "gameboy", "start.gbstate")
    check(os.path.getsize(start) > 70000, "the run keeps its start state")
    e = json.loads(run(gnarl, "gb", "peek", "-c", cfg, "--json", "--set",
                       "env.params.save_state=" + start, env=env).stdout)
    check(value(e, "room") == 0xB6, "the run's start state is free play")
    print("real ROM: OK")


if __name__ == "__main__":
    main()
