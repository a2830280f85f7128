"""Advice for the overworld env from its map, for tests/llm/server.py's
"advisor" behaviour: the exploration experiments' LLM stand-ins (README:
Exploration).

    {"kind": "advisor", "map": "runs/x/world.json", "mode": "helpful"}
    {"kind": "advisor", "map": "runs/x/world.json", "mode": "random", "seed": 1}

The map is the world.json the overworld env stores with `export_map: true`
(plugins/envs/overworld/overworld_map.c), read at the first request (the env writes it
when training starts).  The game state is read from llm_text's default
prompt ("Location: overworld room 0x12. Position: x=72, y=56, facing up. ...
Sword: level 1. Items: sword, Gnarled Key. ...").

helpful: the first button of a shortest walk to the next objective: the
    sword while Link has none, then the Maku Tree (A when facing it: the
    Gnarled Key), then the dungeon entrance; B when facing a bush on the way
    (with the sword).  Walks follow the env's rules: floor tiles, openings
    to the next room, doors (the locked entrance once the key is held).
    Distances come from one breadth-first search per objective over every
    (room, tile), made when the map is read, so a request is a lookup.
random: UP, DOWN, LEFT or RIGHT, uniformly, whatever the state.
"""
import heapq
import json
import random
import re
import threading

COLS, ROWS = 10, 8
FLOOR, BUSH, DOOR, LOCKED, MAKU = 0, 5, 6, 7, 8
DIRS = ("UP", "RIGHT", "DOWN", "LEFT")  # gnarl_direction order
DX, DY = (0, 1, 0, -1), (-1, 0, 1, 0)
GROUPS = {"overworld": 0, "Subrosia": 1, "Maku Tree": 2, "indoors": 3, "dungeon": 4}
LOCATION = re.compile(r"Location: (?:.*\()?(overworld|Subrosia|Maku Tree|indoors|dungeon),? "
                      r"room 0x([0-9a-f]+)")
POSITION = re.compile(r"Position: x=(-?\d+), y=(-?\d+), facing (up|right|down|left)")
LAST = re.compile(r"Last suggestion: (\w+)")


class World:
    """The map and, per objective, every (room, tile)'s distance to it."""

    def __init__(self, path):
        with open(path) as f:
            w = json.load(f)
        self.rooms = w["rooms"]
        self.index = {(r["group"], r["id"]): i for i, r in enumerate(self.rooms)}
        self.sword_cave, self.maku, self.dungeon = w["sword_cave"], w["maku_room"], \
            w["dungeon_first"]
        sword = self.rooms[self.sword_cave]["item"]
        maku_tiles = self.rooms[self.maku]["tiles"]
        next_to_maku = set()
        for t in range(COLS * ROWS):
            x, y = t % COLS, t // COLS
            for d in range(4):
                nx, ny = x + DX[d], y + DY[d]
                if 0 <= nx < COLS and 0 <= ny < ROWS and int(maku_tiles[ny * COLS + nx]) == MAKU:
                    next_to_maku.add((self.maku, x, y))
        # phase 0: no sword; 1: the sword, no key; 2: the key
        self.goals = ({(self.sword_cave, sword[1], sword[2])}, next_to_maku,
                      {(self.dungeon, x, y) for x in range(COLS) for y in range(ROWS)})
        self.dist = [self.distances(p) for p in range(3)]

    def tile(self, room, x, y):
        return int(self.rooms[room]["tiles"][y * COLS + x])

    def step(self, room, x, y, d, phase):
        """Where moving in direction d leads (room, x, y), or None."""
        r = self.rooms[room]
        nx, ny = x + DX[d], y + DY[d]
        if not (0 <= nx < COLS and 0 <= ny < ROWS):
            to = r["exits"][d]
            return (to, nx % COLS, ny % ROWS) if to >= 0 else None
        t = self.tile(room, nx, ny)
        if t == FLOOR or (t == BUSH and phase >= 1):
            return (room, nx, ny)
        if t == DOOR or (t == LOCKED and phase >= 2):
            for dx, dy, to, tx, ty in r["doors"]:
                if (dx, dy) == (nx, ny):
                    return (to, tx, ty)
        return None

    def cost(self, frm, to):
        """Steps from frm to its neighbour to: a bush is cut first (B), then
        walked into; one landed on from another room is gone (the env)."""
        return 2 if to[0] == frm[0] and self.tile(*to) == BUSH else 1

    def distances(self, phase):
        """Shortest walks backwards from the phase's goals (Dijkstra: a bush
        costs two steps)."""
        back = {}
        for room in range(len(self.rooms)):
            for y in range(ROWS):
                for x in range(COLS):
                    for d in range(4):
                        n = self.step(room, x, y, d, phase)
                        if n is not None:
                            back.setdefault(n, []).append((room, x, y))
        dist = {g: 0 for g in self.goals[phase]}
        heap = [(0, g) for g in self.goals[phase]]
        while heap:
            d, node = heapq.heappop(heap)
            if d > dist[node]:
                continue
            for prev in back.get(node, ()):
                nd = d + self.cost(prev, node)
                if nd < dist.get(prev, nd + 1):
                    dist[prev] = nd
                    heapq.heappush(heap, (nd, prev))
        return dist

    def advice(self, room, x, y, facing, phase, last=None):
        """The button at (room, x, y) facing `facing` in `phase`; `last`: the
        button advised before (after a B the bush in front is gone).  None
        when there is nothing to advise."""
        dist = self.dist[phase]
        here = dist.get((room, x, y))
        if here is None:
            return None
        if here == 0:
            if phase != 1:
                return None
            for d in range(4):  # next to the Maku Tree: face it and talk
                nx, ny = x + DX[d], y + DY[d]
                if 0 <= nx < COLS and 0 <= ny < ROWS and self.tile(room, nx, ny) == MAKU:
                    return "A" if d == facing else DIRS[d]
        best = None
        for d in range(4):
            n = self.step(room, x, y, d, phase)
            if n is None or n not in dist:
                continue
            total = dist[n] + self.cost((room, x, y), n)
            if total <= here and (best is None or total < best[0]):
                best = (total, d, n)
        if best is None:
            return None
        _, d, (nroom, nx, ny) = best
        if nroom == room and self.tile(room, nx, ny) == BUSH and d == facing and last != "B":
            return "B"  # cut it; then walk in
        return DIRS[d]


class Advisor:
    def __init__(self):
        self.lock = threading.Lock()
        self.worlds = {}
        self.rngs = {}

    def world(self, path):
        with self.lock:
            if path not in self.worlds:
                self.worlds[path] = World(path)
            return self.worlds[path]

    def random_direction(self, seed):
        with self.lock:
            rng = self.rngs.setdefault(seed, random.Random(seed))
            return rng.choice(("UP", "DOWN", "LEFT", "RIGHT"))

    def answer(self, b, body):
        """The action for behaviour b and the request body (bytes).  Where
        helpful has nothing to say (the quest done, a prompt it cannot
        read) it answers a random direction too: an answer without an
        action would count as a failure and open the plugin's breaker."""
        seed = b.get("seed", 1)
        if b.get("mode") == "random":
            return self.random_direction(seed)
        prompt = user_text(body)
        loc, pos = LOCATION.search(prompt), POSITION.search(prompt)
        w = self.world(b["map"])
        room = w.index.get((GROUPS[loc[1]], int(loc[2], 16))) if loc else None
        if room is None or not pos:
            return self.random_direction(seed)
        phase = 2 if "Gnarled Key" in prompt else 1 if "Sword: level" in prompt else 0
        facing = ("up", "right", "down", "left").index(pos[3])
        last = LAST.search(prompt)
        return w.advice(room, int(pos[1]) // 16, int(pos[2]) // 16, facing, phase,
                        last[1] if last else None) or self.random_direction(seed)


def user_text(body):
    """The user message of a chat request body."""
    try:
        msgs = json.loads(body)["messages"]
    except (ValueError, KeyError, TypeError):
        return ""
    for m in reversed(msgs):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, list):
                return " ".join(p.get("text", "") for p in c if isinstance(p, dict))
            return c or ""
    return ""
