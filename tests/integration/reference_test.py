#!/usr/bin/python3
"""The reference project's settings: the README's table and what gnarl says of each.

Usage: reference_test.py GNARL CONFIG README
  - README.md's table (between the "reference-keys" markers) lists exactly the
    rows of `gnarl config reference --json`, each with the same gnarl key
  - `gnarl config check --set NAME=1` for every name: exit 2, and the message
    names the setting and says what to use (the table's gnarl column), also in
    another case (ray_workers) and inside a section (ppo.lr)
  - a name the reference read from the environment, set there: config check and
    train warn once each, naming what to use, and the run is not changed by it
  - a declared key is still fine, and a misspelt one still gets "did you mean"
"""
import json
import re
import subprocess
import sys


def fail(msg, out=""):
    raise SystemExit("FAIL: %s\n%s" % (msg, out[-3000:]))


def gnarl(binary, *args, env=None):
    return subprocess.run([binary] + list(args), capture_output=True, text=True, env=env)


def readme_rows(path):
    text = open(path).read()
    m = re.search(r"<!-- reference-keys -->\n(.*?)<!-- /reference-keys -->", text, re.S)
    if not m:
        fail("README.md has no reference-keys table")
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        rows[cells[0].strip("`")] = cells[2].replace("`", "")
    return rows


def main():
    binary, config, readme = sys.argv[1:4]
    p = gnarl(binary, "config", "reference", "--json")
    if p.returncode != 0:
        fail("config reference --json exit %d" % p.returncode, p.stderr)
    table = json.loads(p.stdout)
    rows = readme_rows(readme)
    names = [k["name"] for k in table]
    if sorted(rows) != sorted(names):
        fail("README rows and gnarl's table differ: only in README %r, only in gnarl %r"
             % (sorted(set(rows) - set(names)), sorted(set(names) - set(rows))))
    for k in table:
        if rows[k["name"]] != k["use"].replace("`", ""):
            fail("README says %r for %s, gnarl %r" % (rows[k["name"]], k["name"], k["use"]))
    for k in table:
        p = gnarl(binary, "config", "check", "-c", config, "--set", k["name"] + "=1")
        said = k["use"][9:] if k["use"].startswith("nothing: ") else k["use"]
        if p.returncode != 2 or "unknown key: %s is " % k["name"] not in p.stderr \
                or said not in p.stderr:
            fail("config check --set %s=1: exit %d" % (k["name"], p.returncode), p.stderr)
    for where, said in (("ray_workers=3", "RAY_WORKERS is the reference project's worker"),
                        ("ppo.lr=0.001", "lr is RLlib's learning rate: use ppo.learning_rate"),
                        ("rewards.0.params.dungeon_entered=1",
                         "dungeon_entered is the reference project's reward for entering")):
        p = gnarl(binary, "config", "check", "-c", config, "--set", where)
        if p.returncode != 2 or said not in p.stderr:
            fail("config check --set %s: exit %d" % (where, p.returncode), p.stderr)
    # From the environment: a warning, and nothing else changes.
    env = {"PATH": "/usr/bin:/bin", "EPISODE_LENGTH": "7", "RAY_WORKERS": "8"}
    p = gnarl(binary, "config", "check", "-c", config, env=env)
    warned = [l for l in p.stderr.splitlines() if "is set in the environment" in l]
    if p.returncode != 0 or len(warned) != 2 or "env.params.max_steps" not in p.stderr:
        fail("config check with EPISODE_LENGTH and RAY_WORKERS set: exit %d" % p.returncode,
             p.stderr)
    show = gnarl(binary, "config", "show", "-c", config, "--json", env=env)
    if show.returncode != 0 or json.loads(show.stdout)["env"]["num_envs"] == 8:
        fail("RAY_WORKERS in the environment changed the config", show.stdout)
    p = gnarl(binary, "config", "check", "-c", config, "--set", "ppo.gama=0.9")
    if p.returncode != 2 or "did you mean 'gamma'" not in p.stderr:
        fail("a misspelt key lost its suggestion", p.stderr)
    print("reference keys: %d settings, README and gnarl agree; config check names the gnarl "
          "key for each (exit 2); set in the environment they are warned about"
          % len(table))


if __name__ == "__main__":
    main()
