#!/usr/bin/python3
"""`cmake --install` into a temporary prefix, and every shipped config run from there.

Usage: install_test.py BUILD_DIR SOURCE_DIR WORKDIR HAVE_CARTRIDGE HAVE_VIDEO
  (HAVE_*: ON or OFF; the cartridge is ON where sdcc built it and libmgba is
  there for the gameboy env)
  - the install holds bin/gnarl, the plugins, every config of configs/, the SDK
    headers, the licence and the third-party notices, and (when sdcc built it)
    the test cartridge in share/gnarl/roms/
  - from a directory with no configs/ and without GNARL_PLUGIN_PATH or
    GNARL_TEST_ROM (so only what the install holds can be found): `gnarl config
    check` with no -c uses the installed env.yaml; each installed config trains
    for two iterations (--stop-after 2) and its checkpoint evaluates (with a
    video when FFmpeg is built in); a config that needs the real game's ROM is
    checked with `config check` and its run is skipped with a one-line reason
    while GNARL_OOS_ROM is unset
Exits 1 on the first failure, with the command and its output.
"""
import os
import shutil
import subprocess
import sys

REAL_ROM = {"oracle-of-seasons.yaml": "GNARL_OOS_ROM"}


def fail(msg, out=""):
    raise SystemExit("FAIL: %s\n%s" % (msg, out[-4000:]))


def run(args, cwd, env, code=0):
    p = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env, timeout=900)
    if p.returncode != code:
        fail("%s: exit %d, expected %d" % (" ".join(args), p.returncode, code),
             p.stdout + p.stderr)
    return p


def main():
    build, source, work, have_cart, have_video = sys.argv[1:6]
    prefix = os.path.join(work, "prefix")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    run(["cmake", "--install", build, "--prefix", prefix], work, None)
    gnarl = os.path.join(prefix, "bin", "gnarl")
    configs_dir = os.path.join(prefix, "share", "gnarl", "configs")
    shipped = sorted(f for f in os.listdir(os.path.join(source, "configs"))
                     if f.endswith(".yaml"))
    need = [gnarl, os.path.join(prefix, "include", "gnarl", "plugin.h"),
            os.path.join(prefix, "share", "doc", "gnarl", "LICENSE"),
            os.path.join(prefix, "share", "doc", "gnarl", "THIRD_PARTY_NOTICES.md")] + \
        [os.path.join(configs_dir, f) for f in shipped]
    cart = os.path.join(prefix, "share", "gnarl", "roms", "gnarl-test.gb")
    if have_cart == "ON":
        need.append(cart)  # built by sdcc, installed beside the configs
    missing = [f for f in need if not os.path.exists(f)]
    if missing:
        fail("not installed: %s" % ", ".join(missing))
    plugins = os.listdir(os.path.join(prefix, "lib", "gnarl", "plugins"))
    if "overworld.so" not in plugins or "room_discovery.so" not in plugins:
        fail("plugins not installed: %r" % plugins)

    env = {k: v for k, v in os.environ.items()
           if k not in ("GNARL_PLUGIN_PATH", "GNARL_TEST_ROM", "RESTORE_CHECKPOINT")}
    cwd = os.path.join(work, "elsewhere")
    os.makedirs(cwd)
    p = run([gnarl, "config", "check"], cwd, env)
    if "OK: %s" % os.path.join(configs_dir, "env.yaml") not in p.stdout.replace("/bin/..", ""):
        fail("config check without -c does not use the installed env.yaml", p.stdout)
    for name in shipped:
        cfg = os.path.join(configs_dir, name)
        if "plugin: gameboy" in open(cfg).read() and "gameboy.so" not in plugins:
            print("%s: not run: this build has no gameboy env (libmgba)" % name)
            continue
        if name == "test-cartridge.yaml" and have_cart != "ON":
            print("%s: not run: this build has no test cartridge (sdcc) or no gameboy env "
                  "(libmgba)" % name)
            continue
        run([gnarl, "config", "check", "-c", cfg], cwd, env)
        if name in REAL_ROM and not os.environ.get(REAL_ROM[name]):
            print("%s: config check passed; not run: %s is unset (the real game's ROM is "
                  "not shipped)" % (name, REAL_ROM[name]))
            continue
        run_name = name[:-5]
        p = run([gnarl, "train", "-c", cfg, "--stop-after", "2", "--set",
                 "run.storage=" + os.path.join(work, "runs"), "--set", "run.name=" + run_name,
                 "--set", "log.every_seconds=0"], cwd, env)
        if "iter 2 |" not in p.stderr or "checkpoint  " not in p.stderr:
            fail("%s: two iterations and a checkpoint expected" % name, p.stderr)
        args = [gnarl, "eval", "-c", cfg, "--restore", os.path.join(work, "runs", run_name),
                "--episodes", "1", "--json", "--set", "log.every_seconds=0"]
        video = os.path.join(work, run_name + ".mp4")
        frames = "cartpole" not in name
        if have_video == "ON" and frames:
            args += ["--video", video]
        p = run(args, cwd, env)
        if '"episodes": 1' not in p.stdout:
            fail("%s: eval of the installed run" % name, p.stdout + p.stderr)
        if have_video == "ON" and frames and os.path.getsize(video) < 1000:
            fail("%s: the video is %d bytes" % (name, os.path.getsize(video)))
        print("%s: trained 2 iterations and evaluated from the install%s"
              % (name, " (with a video)" if have_video == "ON" and frames else ""))
        if name in REAL_ROM:  # made from the user's ROM: not kept
            shutil.rmtree(os.path.join(work, "runs", run_name), ignore_errors=True)
            if os.path.exists(video):
                os.unlink(video)


if __name__ == "__main__":
    main()
