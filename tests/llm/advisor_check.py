#!/usr/bin/python3
"""The advisor of the exploration experiments (tests/llm/advisor.py, served by
tests/llm/server.py) on a real world: the overworld env of
configs/overworld-hard.yaml stores its map (export_map) in a one-iteration run;
following the helpful advice from the start, by the env's rules, takes the
sword, the Gnarled Key (A facing the Maku Tree) and enters the dungeon, in
exactly the steps of a shortest walk; the server answers a request carrying
llm_text's default prompt with that advice, and in random mode spreads its
answers over the four directions.

Usage: advisor_check.py GNARL SOURCE_DIR WORKDIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import advisor  # noqa: E402

SWORD = 3  # enum ow_item


def fail(msg):
    raise SystemExit("FAIL: " + msg)


def play(w):
    """Follow the helpful advice from the start; (steps, events) until the
    dungeon, by the env's rules (overworld_sim.c)."""
    room, x, y = json.load(open(w.path))["start"]
    facing, phase, steps, events, a = 2, 0, 0, [], None
    cut = set()
    while room != w.dungeon:
        if steps > 5000:
            fail("no dungeon after 5000 advised steps (at room %d %d,%d phase %d)"
                 % (room, x, y, phase))
        a = w.advice(room, x, y, facing, phase, a)
        steps += 1
        if a == "A":
            phase = 2
            w.key_spot = (room, x, y)
            events.append(("key", steps))
        elif a == "B":
            cut.add((room, x + advisor.DX[facing], y + advisor.DY[facing]))
        elif a in advisor.DIRS:
            facing = advisor.DIRS.index(a)
            n = w.step(room, x, y, facing, phase)
            # a bush is floor only once cut (and comes back in another room)
            if n and n[0] == room and w.tile(*n) == advisor.BUSH and n not in cut:
                n = None
            if n:
                if n[0] != room:
                    cut.clear()
                room, x, y = n
        else:
            fail("advice %r at room %d (%d, %d) phase %d" % (a, room, x, y, phase))
        item = w.rooms[room]["item"]
        if phase == 0 and item[0] == SWORD and (x, y) == (item[1], item[2]):
            phase = 1
            events.append(("sword", steps))
    events.append(("dungeon", steps))
    return steps, events


def sword_at(w):
    item = w.rooms[w.sword_cave]["item"]
    return (w.sword_cave, item[1], item[2])


def prompt(room, x, y, facing):
    """llm_text's default user prompt (plugins/llm/llm_text.c) for a state at
    the start of an episode."""
    return ("Location: overworld room 0x%02x. Position: x=%d, y=%d, facing %s. Hearts: 3/3. "
            "Rupees: 0. Small keys: 0. Sword: none. Items: none. Enemies nearby: 0. Season: "
            "spring. Last suggestion: none. Which button should the player press next?"
            % (room, x * 16 + 8, y * 16 + 8, facing))


def ask(port, text):
    body = json.dumps({"model": "x", "messages": [{"role": "system", "content": "s"},
                                                  {"role": "user", "content": text}]}).encode()
    req = urllib.request.Request("http://127.0.0.1:%d/v1/chat/completions" % port, data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        content = json.load(r)["choices"][0]["message"]["content"]
    return content.split("ACTION: ")[1].strip()


def server(work, default):
    port_file = os.path.join(work, "port")
    if os.path.exists(port_file):
        os.unlink(port_file)
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--log",
                          os.path.join(work, "requests.jsonl"), "--port-file", port_file,
                          "--default", json.dumps(default)], stdout=subprocess.DEVNULL)
    end = time.time() + 30
    while not os.path.exists(port_file):
        if time.time() > end or p.poll() is not None:
            fail("the test LLM server did not start")
        time.sleep(0.02)
    return p, int(open(port_file).read())


def main():
    gnarl, src, work = sys.argv[1:4]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    sets = ["env.params.export_map=true", "env.num_envs=1", "ppo.rollout_steps=16",
            "ppo.minibatch_size=16", "ppo.total_steps=16", "policy.hidden=[8]",
            "checkpoint.every=0", "metrics.episodes=false", "run.storage=" + work,
            "run.name=map"]
    r = subprocess.run([gnarl, "train", "-c", os.path.join(src, "configs", "overworld-hard.yaml")]
                       + sum((["--set", s] for s in sets), []), capture_output=True, text=True)
    path = os.path.join(work, "map", "world.json")
    if r.returncode != 0 or not os.path.exists(path):
        fail("no world.json from the run (exit %d):\n%s" % (r.returncode, r.stderr[-2000:]))
    w = advisor.World(path)
    w.path = path
    steps, events = play(w)
    room, x, y = json.load(open(path))["start"]
    shortest = w.dist[0][(room, x, y)]
    # the shortest walks: to the sword, on to the Maku Tree (then at most a
    # turn and A), on to the dungeon (a turn more for a bush not faced)
    to_maku = shortest + w.dist[1][sword_at(w)]
    if [e[0] for e in events] != ["sword", "key", "dungeon"] or events[0][1] != shortest or \
            not to_maku + 1 <= events[1][1] <= to_maku + 2 or \
            not 0 <= events[2][1] - events[1][1] - w.dist[2][w.key_spot] <= 4:
        fail("followed from the start: %r (the sword %d steps away)" % (events, shortest))
    print("helpful: sword after %d steps, key after %d, dungeon after %d" % tuple(
        e[1] for e in events))

    p, port = server(work, {"kind": "advisor", "map": path, "mode": "helpful"})
    try:
        want = w.advice(room, x, y, 2, 0)
        got = ask(port, prompt(w.rooms[room]["id"], x, y, "down"))
        if got != want:
            fail("the server advises %s at the start, the map %s" % (got, want))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
    p, port = server(work, {"kind": "advisor", "map": path, "mode": "random", "seed": 3})
    try:
        counts = Counter(ask(port, prompt(w.rooms[room]["id"], x, y, "down"))
                         for _ in range(400))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
    if sorted(counts) != ["DOWN", "LEFT", "RIGHT", "UP"] or min(counts.values()) < 60:
        fail("random advice: %r" % counts)
    print("server: helpful %s at the start; random %r" % (want, dict(counts)))


if __name__ == "__main__":
    main()
