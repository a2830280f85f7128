#!/usr/bin/python3
"""The scale-out recipes of deploy/, checked as far as a machine without a
container engine, a Slurm cluster or Kubernetes allows.

Usage: recipes_test.py SOURCE_DIR BUILD_DIR WORKDIR [MPIRUN]
  Containerfile  every package either stage installs exists in Debian's lists
                 (apt-cache), the build stage installs only packages of
                 scripts/packages.txt, and the runtime stage names the Debian
                 package of every shared library the built gnarl and its
                 plugins link (objdump NEEDED, ldd, dpkg -S): the image runs
                 what it builds
  k8s MPIJob     a kubeflow.org/v2beta1 MPIJob: one launcher, workers running
                 sshd, one slot each and as many as mpirun's -n, the same image;
                 the launcher's gnarl command passes `gnarl config check`
  Slurm script   `bash -n`; then run
                 as it is with mpirun in place of srun (MPIRUN given): 2 ranks
                 train a run, and GNARL_RESTORE=latest resumes it on 1 rank,
                 continuing at the next iteration
"""
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import yaml


def fail(msg, out=""):
    raise SystemExit("FAIL: %s\n%s" % (msg, out[-3000:]))


def stages(containerfile):
    """The packages of each apt-get install, stage by stage."""
    text = open(containerfile).read().replace("\\\n", " ")
    out = []
    for stage in re.split(r"^FROM ", text, flags=re.M)[1:]:
        pkgs = []
        for m in re.finditer(r"apt-get install ([^&]*)", stage):
            pkgs += [w for w in m.group(1).split() if not w.startswith("-") and "=" not in w]
        out.append(pkgs)
    return out


def owner_of(paths):
    """{library path: its Debian package}, from one dpkg -S (by the path or, for a
    symlink dpkg does not list, by the file it points to)."""
    real = {path: os.path.realpath(path) for path in paths}
    p = subprocess.run(["dpkg", "-S"] + sorted(set(paths) | set(real.values())),
                       capture_output=True, text=True)
    by_file = {}
    for line in p.stdout.splitlines():
        pkg, _, files = line.partition(": ")
        for f in files.split(", "):
            by_file[f.strip()] = pkg.split(":")[0]
    return {path: by_file.get(path) or by_file.get(real[path]) for path in paths
            if by_file.get(path) or by_file.get(real[path])}


def containerfile(source, build):
    build_pkgs, run_pkgs = stages(os.path.join(source, "deploy", "Containerfile"))
    p = subprocess.run(["apt-cache", "show", "--no-all-versions"] + build_pkgs + run_pkgs,
                       capture_output=True, text=True)
    known = set(re.findall(r"^Package: (\S+)", p.stdout, re.M))
    unknown = [pkg for pkg in build_pkgs + run_pkgs if pkg not in known]
    if unknown:
        fail("Containerfile installs %r, which Debian's lists do not have" % unknown)
    listed = {l.split("#")[0].strip() for l in open(os.path.join(source, "scripts",
                                                                 "packages.txt"))}
    extra = [p for p in build_pkgs if p not in listed]
    if extra:
        fail("the build stage installs %r, which scripts/packages.txt does not list" % extra)
    binaries = [os.path.join(build, "gnarl")] + glob.glob(os.path.join(build, "plugins", "*.so"))
    needed = {}
    for b in binaries:
        # the libraries b links itself (NEEDED); theirs come with their packages
        direct = re.findall(r"NEEDED\s+(\S+)", subprocess.run(
            ["objdump", "-p", b], capture_output=True, text=True).stdout)
        paths = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(
            ["ldd", b], capture_output=True, text=True).stdout, re.M))
        for lib in direct:
            if lib in paths and "san." not in lib:
                needed.setdefault(paths[lib], set()).add(os.path.basename(b))
    owners = owner_of(needed)
    needed = {owners[path]: users for path, users in needed.items() if path in owners}
    base = {"libc6", "libgcc-s1"}  # in every Debian image
    missing = sorted(p for p in needed if p not in run_pkgs and p not in base)
    if missing:
        fail("the runtime stage lacks %s, linked by %s" % (
            missing, ", ".join(sorted(set().union(*(needed[p] for p in missing))))))
    print("Containerfile: %d build and %d runtime packages exist in Debian; the runtime "
          "stage installs all %d packages whose libraries gnarl and its %d plugins link"
          % (len(build_pkgs), len(run_pkgs), len(needed), len(binaries) - 1))


def gnarl_args(words):
    """The -c FILE and --set options of a gnarl train command line."""
    i = words.index("train")
    return words[i + 1:]


def config_check(build, source, args, what):
    args = [a.replace("/opt/gnarl/share/gnarl/configs", os.path.join(source, "configs"))
            for a in args]
    env = dict(os.environ, S3_ENDPOINT_URL="http://127.0.0.1:9", S3_ACCESS_KEY_ID="x",
               S3_SECRET_ACCESS_KEY="y")
    p = subprocess.run([os.path.join(build, "gnarl"), "config", "check"] + args,
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        fail("%s: gnarl config check %s: exit %d" % (what, " ".join(args), p.returncode),
             p.stderr)


def mpijob(source, build):
    job = yaml.safe_load(open(os.path.join(source, "deploy", "k8s", "mpijob.yaml")))
    if job.get("apiVersion") != "kubeflow.org/v2beta1" or job.get("kind") != "MPIJob":
        fail("not a kubeflow.org/v2beta1 MPIJob")
    spec = job["spec"]
    launcher = spec["mpiReplicaSpecs"]["Launcher"]
    worker = spec["mpiReplicaSpecs"]["Worker"]
    lc = launcher["template"]["spec"]["containers"][0]
    wc = worker["template"]["spec"]["containers"][0]
    cmd = lc["command"]
    n = int(cmd[cmd.index("-n") + 1])
    if launcher["replicas"] != 1 or spec.get("slotsPerWorker") != 1 or \
            worker["replicas"] * spec["slotsPerWorker"] != n:
        fail("mpirun -n %d, %d workers of %d slots" % (n, worker["replicas"],
                                                        spec["slotsPerWorker"]))
    if lc["image"] != wc["image"] or "sshd" not in " ".join(wc["command"]):
        fail("the workers must run sshd from the launcher's image")
    if spec.get("mpiImplementation") not in ("OpenMPI", "Intel", "MPICH"):
        fail("mpiImplementation %r" % spec.get("mpiImplementation"))
    config_check(build, source, gnarl_args(cmd), "mpijob.yaml")
    print("mpijob.yaml: an MPIJob of %d ranks (one per worker, sshd), its gnarl command "
          "passes config check" % n)


def slurm(source, build, work, mpirun):
    script = os.path.join(source, "deploy", "slurm", "gnarl.sbatch")
    p = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    if p.returncode != 0:
        fail("bash -n gnarl.sbatch", p.stderr)
    if not mpirun:
        print("gnarl.sbatch: bash -n passes; not run (no MPI in this build)")
        return
    runs = os.path.join(work, "runs")
    cp = os.path.join(source, "configs", "cartpole.yaml")
    env = dict(os.environ, GNARL=os.path.join(build, "gnarl"), GNARL_CONFIG=cp,
               GNARL_STORAGE=runs, GNARL_RUN="first", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1",
               OMPI_MCA_btl="self,vader", OMPI_MCA_oob_tcp_if_include="lo",
               HWLOC_COMPONENTS="-gl", SRUN=mpirun + " -n 2", SLURM_CPUS_PER_TASK="1",
               # Open MPI's components stay loaded so LeakSanitizer can name
               # (and tests/mpi_lsan.supp match) what they keep at exit
               OMPI_MCA_mca_base_component_disable_dlclose="1")
    extra = ["--set", "ppo.total_steps=20480", "--set", "log.every_seconds=0"]
    p = subprocess.run(["bash", script] + extra, capture_output=True, text=True, env=env,
                       cwd=work, timeout=600)
    if p.returncode != 0 or "done: iteration 20 of 20" not in p.stderr:
        fail("gnarl.sbatch with 2 ranks: exit %d" % p.returncode, p.stderr)
    env.update(GNARL_RESTORE="latest", GNARL_RUN="second", SRUN=mpirun + " -n 1")
    extra[1] = "ppo.total_steps=30720"
    p = subprocess.run(["bash", script] + extra, capture_output=True, text=True, env=env,
                       cwd=work, timeout=600)
    first = re.search(r"^iter (\d+) \|", p.stderr, re.M)
    if p.returncode != 0 or "RESTORING from checkpoint: " not in p.stderr or not first \
            or int(first.group(1)) != 21:
        fail("GNARL_RESTORE=latest on 1 rank: exit %d" % p.returncode, p.stderr)
    print("gnarl.sbatch: run as it is with mpirun for srun: 2 ranks trained 20 iterations, "
          "GNARL_RESTORE=latest resumed them on 1 rank at iteration 21")


def main():
    source, build, work = sys.argv[1:4]
    mpirun = sys.argv[4] if len(sys.argv) > 4 else ""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    containerfile(source, build)
    mpijob(source, build)
    slurm(source, build, work, mpirun)


if __name__ == "__main__":
    main()
