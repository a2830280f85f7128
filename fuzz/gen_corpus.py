#!/usr/bin/python3
"""gen_corpus.py BUILD_DIR - (re)write the fuzz targets' seed corpora in
fuzz/corpus/<target>/ from real files: what gnarl writes (a run's
config.yaml, checkpoints, `gnarl config show`), what it reads (configs/,
the LLM test server's replies, the Ceph gateway's replies, the requests
the HUD page makes), nothing from the real game.

    fuzz/gen_corpus.py build            # everything; the S3 seeds need the
                                        # Ceph binaries (tests/s3/start.sh)
    fuzz/gen_corpus.py build run_listing   # only some: runs, configs, llm_prompts,
                                        # llm_replies, hud_requests, run_listing,
                                        # s3_replies

Deterministic where gnarl is (seeded runs on one thread); files are named
by what they are, so a regenerated corpus shows as a small diff.  Also
writes fuzz/data/tiny/model.safetensors, the model the manifest target's
checkpoint directory holds (the manifest seeds carry its SHA-256).
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def seed(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def gnarl(build, args, cwd, env=None):
    e = dict(os.environ, GNARL_PLUGIN_PATH=os.path.join(build, "plugins"), **(env or {}))
    r = subprocess.run([os.path.join(build, "gnarl")] + args, cwd=cwd, env=e,
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("gen_corpus: gnarl %s failed:\n%s" % (" ".join(args), r.stderr))
    return r.stdout


def runs(build, tmp):
    """A tiny CartPole run and a tiny overworld run: checkpoints and configs."""
    cart = ["train", "-c", os.path.join(ROOT, "configs/cartpole.yaml"),
            "--set", "ppo.total_steps=1024", "--set", "policy.hidden=[4]",
            "--set", "run.name=tiny", "--set", "run.storage=runs",
            "--set", "metrics.episodes=true", "--set", "ppo.blas_threads=1"]
    gnarl(build, cart, tmp)
    ck = os.path.join(tmp, "runs/tiny/checkpoints/checkpoint_000002")
    os.makedirs(os.path.join(HERE, "data/tiny"), exist_ok=True)
    shutil.copy(os.path.join(ck, "model.safetensors"),
                os.path.join(HERE, "data/tiny/model.safetensors"))
    seed("safetensors", "cartpole-tiny.safetensors", read(os.path.join(ck, "model.safetensors")))
    seed("manifest", "cartpole-tiny.json", read(os.path.join(ck, "manifest.json")))
    seed("config", "run-config.yaml", read(os.path.join(tmp, "runs/tiny/config.yaml")))
    ow = ["train", "-c", os.path.join(ROOT, "configs/env.yaml"),
          "--set", "ppo.total_steps=512", "--set", "policy.hidden=[4]",
          "--set", "env.num_envs=2", "--set", "ppo.rollout_steps=256",
          "--set", "ppo.minibatch_size=128", "--set", "run.name=ow",
          "--set", "run.storage=runs", "--set", "ppo.blas_threads=1"]
    gnarl(build, ow, tmp)
    ck = os.path.join(tmp, "runs/ow/checkpoints/checkpoint_000001")
    seed("manifest", "overworld-tiny.json", read(os.path.join(ck, "manifest.json")))
    seed("config", "run-config-overworld.yaml", read(os.path.join(tmp, "runs/ow/config.yaml")))


def configs(build, tmp):
    for name in sorted(os.listdir(os.path.join(ROOT, "configs"))):
        if name.endswith(".yaml"):
            seed("config", name, read(os.path.join(ROOT, "configs", name)))
    shown = gnarl(build, ["config", "show", "-c", os.path.join(ROOT, "configs/env.yaml")], tmp)
    seed("config", "config-show-env.yaml", shown)
    # Overrides as the README writes them, after a config.
    seed("config", "sets.yaml", read(os.path.join(ROOT, "configs/cartpole.yaml")) +
         b"#--set\nppo.gamma=0.98\npolicy.hidden=[64,64]\nrewards.0.weight=30\n"
         b"llm.0.probability=0.05\nrun.name=\n")
    # Anchors, aliases, ${VAR} and the documented secret forms.
    seed("config", "anchors-env.yaml",
         "defaults: &d {weight: 1.0}\nrun: {name: a, seed: 3}\nenv: {plugin: cartpole}\n"
         "rewards:\n  - {<<: *d, plugin: time_penalty}\n"
         "ppo: {gamma: ${GNARL_FUZZ_VAR:-0.9}, gae_lambda: ${GNARL_FUZZ_VAR}}\n"
         "storage:\n  s3: {secret_key: \"${S3_SECRET_ACCESS_KEY:-x}\", endpoint: null}\n"
         "hud: {port: 0, bind: 0.0.0.0, token: \"$${literal}\"}\n")
    # The RAM maps and LLM prompts configs carry.
    for name in ("test-cartridge.yaml", "oracle-of-seasons.yaml"):
        text = read(os.path.join(ROOT, "configs", name), "r")
        m = re.search(r"^(\s*)ram_map:\n((?:\1  .*\n|\s*#.*\n)+)", text, re.M)
        if m:
            body = "\n".join(l[len(m.group(1)) + 2:] for l in m.group(2).splitlines())
            seed("gameboy_ram", name.replace(".yaml", ".ram_map.yaml"), body + "\n")
            seed("gameboy_ram", name.replace(".yaml", ".ram_map+ram.yaml"),
                 body + "\n#--ram\n" + "".join(chr(0x20 + (i * 37) % 90) for i in range(512)))


def llm_prompts(build, tmp):
    out = json.loads(gnarl(build, ["plugins", "show", "llm_text", "--json"], tmp))
    params = {p["name"]: p for p in out.get("params", [])}
    # The game state as the overworld fills it: group 0, room 0x12, x 80,
    # y 64, direction 2, 12/12 health, 37 rupees, sword level 1, a season.
    state = struct.pack("<IIQ" + "i" * 15 + "BBBB16s", 112, 0, 1234, 0, 0x12, -1, 80, 64, 2,
                        12, 12, 37, 0, 1, 3, 0, 2, 0, 0, 0, 1, 0,
                        bytes([0x20, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]))
    state += b"\0" * (112 - len(state))
    for name in ("system_prompt", "user_prompt"):
        text = params[name]["default"] if name in params else "{actions}"
        seed("llm_prompt", name + ".txt", state + text.encode())
    out = json.loads(gnarl(build, ["plugins", "show", "llm_vision", "--json"], tmp))
    params = {p["name"]: p for p in out.get("params", [])}
    if "user_prompt" in params:
        seed("llm_prompt", "vision_user_prompt.txt",
             state + params["user_prompt"]["default"].encode())
    seed("llm_prompt", "rooms.txt", state + b"At {location} ({room_name}), {{x}}={x}\n"
         b"#--rooms\n\"0/0x12\": Horon Village\n\"1/5\": Subrosia market\n\"3/0x2A\": a cave\n")


def llm_replies(tmp):
    """Every behaviour of the LLM test server, as it sends it."""
    log = os.path.join(tmp, "llm.jsonl")
    srv = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/llm/server.py"),
                            "--log", log, "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(srv.stdout.readline().split()[1])
        base = "http://127.0.0.1:%d" % port
        behaviours = {
            "action": {"kind": "action", "action": "UP"},
            "json": {"kind": "json", "action": "LEFT"},
            "text-fenced": {"kind": "text", "text": "```json\n{\"action\": \"B\"}\n```"},
            "text-markdown": {"kind": "text", "text": "**Scene:** a cave\n**ACTION:** `RIGHT`."},
            "garbage": {"kind": "garbage"},
            "truncated": {"kind": "truncated"},
            "status-429": {"kind": "status", "status": 429, "retry_after": 1,
                           "error_type": "rate_limit"},
            "status-503": {"kind": "status", "status": 503, "error_type": "overloaded"},
            "quota": {"kind": "quota"},
            "not-json": {"kind": "not_json"},
        }
        for name, b in behaviours.items():
            ctl = json.dumps({"script": [b]}).encode()
            urllib.request.urlopen(urllib.request.Request(base + "/control", ctl,
                                                          {"Content-Type": "application/json"}))
            req = urllib.request.Request(base + "/v1/chat/completions",
                                         json.dumps({"model": "m", "messages": []}).encode(),
                                         {"Content-Type": "application/json"})
            try:
                body = urllib.request.urlopen(req).read()
            except urllib.error.HTTPError as e:
                body = e.read()
            seed("llm_reply", name + ".json", body)
    finally:
        srv.terminate()
        srv.wait()


def hud_requests():
    """What the HUD page, a browser's reconnect and scripts send."""
    tok = "fuzz-token-7d3f9a1c2b"
    reqs = {
        "page": "GET /?token=" + tok,
        "metrics": "GET /api/metrics?token=" + tok,
        "metrics-last": "GET /api/metrics?last=5&token=" + tok,
        "metrics-bearer": "GET /api/metrics?last=3\nAuthorization: Bearer " + tok,
        "events-after": "GET /api/events?after=12&token=" + tok,
        "events-reconnect": "GET /api/events?token=" + tok + "\nLast-Event-ID: 15",
        "frame": "GET /frame.png?n=3&token=" + tok,
        "llm": "GET /api/llm?token=" + tok,
        "head": "HEAD /api/metrics?token=" + tok,
        "post": "POST /api/metrics?token=" + tok + "\nContent-Length: 0",
        "no-token": "GET /api/metrics",
        "wrong-token": "GET /api/llm?token=guess",
        "not-found": "GET /favicon.ico?token=" + tok,
    }
    for name, r in reqs.items():
        seed("hud_http", name + ".txt", r + "\n")


def run_listing(build, tmp):
    """A run root as a store lists it (key, and the content of what gnarl
    reads back: pointers, tags, manifests), the run renamed `run`."""
    gnarl(build, ["train", "-c", os.path.join(ROOT, "configs/cartpole.yaml"),
                  "--set", "ppo.total_steps=2048", "--set", "policy.hidden=[4]",
                  "--set", "run.name=run", "--set", "run.storage=lst",
                  "--set", "checkpoint.every=1", "--set", "checkpoint.keep_last=1000",
                  "--set", "metrics.episodes=true", "--set", "ppo.blas_threads=1"], tmp)
    gnarl(build, ["checkpoints", "tag", "lst/run/checkpoints/checkpoint_000002", "best"], tmp)
    lines = []
    top = os.path.join(tmp, "lst")
    for d, _, files in sorted(os.walk(top)):
        for f in sorted(files):
            key = os.path.relpath(os.path.join(d, f), top)
            if f in ("latest", "manifest.json") or "/tags/" in "/" + key:
                lines.append(key + "\t" + read(os.path.join(d, f), "r").replace("\n", "\\n"))
            else:
                lines.append(key)
    seed("run_listing", "cartpole-run.txt", "\n".join(lines) + "\n")
    seed("run_listing", "hostile-names.txt",
         "run/checkpoints/checkpoint_99999999999999999999999/manifest.json\t{}\n"
         "run/checkpoints/checkpoint_000007/manifest.json\t{\"metrics\": {}}\n"
         "run/checkpoints/checkpoint_/manifest.json\n"
         "run/checkpoints/latest\tcheckpoint_000007\n"
         "run/tags/best\tcheckpoints/../../etc\n"
         "run/workers/worker_0/episodes_000000000000-999999999999.jsonl\n"
         "run/workers/worker_0/episodes_-1-18446744073709551615.jsonl\n")


def s3_replies(tmp):
    """Replies of the real Ceph gateway: listings, errors, an upload id."""
    sys.path.insert(0, os.path.join(ROOT, "tests/integration"))
    import s3_e2e_client as s3
    d = os.path.join(tmp, "s3")
    if subprocess.run([os.path.join(ROOT, "tests/s3/start.sh"), d]).returncode != 0:
        print("gen_corpus: no Ceph gateway: S3 seeds kept as they are", file=sys.stderr)
        return
    try:
        env = dict(l.strip().split("=", 1) for l in open(os.path.join(d, "s3.env"))
                   if "=" in l)
        env = {k: v.strip('"') for k, v in env.items()}
        c = s3.Client(env["S3_ENDPOINT_URL"], env["S3_ACCESS_KEY_ID"],
                      env["S3_SECRET_ACCESS_KEY"])
        bad = s3.Client(env["S3_ENDPOINT_URL"], env["S3_ACCESS_KEY_ID"], "wrong-secret")
        c.create_bucket("seeds")
        for k in ("runs/a/checkpoints/checkpoint_000001/manifest.json",
                  "runs/a/checkpoints/latest", "runs/a/tags/best & <first>",
                  "runs/a/workers/worker_0/episodes_000000000000-000000000009.jsonl"):
            c.put("seeds", k, b"x" * 17)

        def raw(name, status_byte, fn):
            try:
                body = fn()
            except s3.S3Error as e:
                body = e.body.encode()
            seed("s3_xml", name + ".xml", bytes([status_byte, 0]) + body)

        raw("list", 0, lambda: c.request("GET", "/seeds", {"list-type": "2", "prefix": "runs/"}))
        raw("list-truncated", 0, lambda: c.request("GET", "/seeds", {"list-type": "2",
                                                                      "max-keys": "2"}))
        raw("upload-id", 0, lambda: c.request("POST", "/seeds/big", {"uploads": ""}))
        raw("no-such-key", 5, lambda: c.request("GET", "/seeds/missing"))
        raw("no-such-bucket", 5, lambda: c.request("GET", "/nobucket/x"))
        raw("signature", 4, lambda: bad.request("GET", "/seeds/runs/a/checkpoints/latest"))
        raw("bucket-exists", 6, lambda: c.request("PUT", "/seeds"))
    finally:
        subprocess.run([os.path.join(ROOT, "tests/s3/stop.sh"), d])


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = os.path.abspath(sys.argv[1])
    only = set(sys.argv[2:])
    steps = [("runs", lambda t: runs(build, t)), ("configs", lambda t: configs(build, t)),
             ("llm_prompts", lambda t: llm_prompts(build, t)), ("llm_replies", llm_replies),
             ("hud_requests", lambda t: hud_requests()),
             ("run_listing", lambda t: run_listing(build, t)), ("s3_replies", s3_replies)]
    with tempfile.TemporaryDirectory(prefix="gnarl-corpus-") as tmp:
        for name, step in steps:
            if not only or name in only:
                step(tmp)
    print("gen_corpus: seeds in", CORPUS)


if __name__ == "__main__":
    main()
