#!/usr/bin/env python3
"""compare_models.py A/model.safetensors B/model.safetensors - are two
checkpoints' models the same?

Every tensor of the learner, the normalisers, the counters, the RNG and the
running episodes must be byte-identical.  Reward-term memory may be stored
two ways: before ABI 1.1 as `reward.<term>` (a GRW1 blob the term wrote),
since as `reward.<term>.memory` (envs x bytes, the host's).  Such a pair is
compared by content: the same records for the dense terms, the same cells
(count and set of keys per env) for grid_exploration.  Prints one line per
difference and a verdict; exits 0 when the two are the same, 1 otherwise.
"""
import json
import struct
import sys

GRW1 = 0x31575247


def load(path):
    blob = open(path, "rb").read()
    (n,) = struct.unpack_from("<Q", blob, 0)
    head = json.loads(blob[8:8 + n])
    head.pop("__metadata__", None)
    data = blob[8 + n:]
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in head.items()}


def legacy_records(blob):
    """(n_envs, episode bytes) of a GRW1 blob, or None."""
    if len(blob) < 56:
        return None
    magic, fmt = struct.unpack_from("<II", blob, 0)
    n_envs, run_bytes, env_bytes = struct.unpack_from("<III", blob, 44)
    if magic != GRW1 or fmt != 1 or len(blob) != 56 + run_bytes + env_bytes:
        return None
    return n_envs, blob[56 + run_bytes:]


def grid_cells_legacy(env):
    """[(count, keys)] per env of grid_exploration's list format."""
    words = struct.unpack("<%dI" % (len(env) // 4), env)
    out, at = [], 1
    while at < len(words):
        n = words[at]
        out.append((n, sorted(words[at + 1:at + 1 + n])))
        at += 1 + n
    return out


def grid_cells_memory(mem, envs, per):
    out = []
    for e in range(envs):
        words = struct.unpack_from("<%dI" % (per // 4), mem, e * per)
        out.append((words[0], sorted(w - 1 for w in words[1:] if w)))
    return out


def same_memory(term, old_blob, new):
    dtype, (envs, per), mem = new
    rec = legacy_records(old_blob)
    if rec is None or rec[0] != envs:
        return False
    if term == "grid_exploration":
        return grid_cells_legacy(rec[1]) == grid_cells_memory(mem, envs, per)
    return rec[1] == mem


def main():
    if len(sys.argv) != 3:
        print(__doc__.split("\n")[0], file=sys.stderr)
        return 2
    a, b = load(sys.argv[1]), load(sys.argv[2])
    bad, paired = [], 0
    for name in sorted(set(a) | set(b)):
        if name in a and name in b:
            if a[name] != b[name]:
                bad.append("differs: %s" % name)
            continue
        if name.endswith(".memory"):
            old = name[:-len(".memory")]
            other = a if name in b else b
            new = b if name in b else a
            if old in other and same_memory(old[len("reward."):], other[old][2], new[name]):
                paired += 1
                continue
            bad.append("reward memory differs or is missing: %s" % name)
        elif (name + ".memory") in a or (name + ".memory") in b:
            continue  # compared with its .memory pair
        else:
            bad.append("only in %s: %s" % ("A" if name in a else "B", name))
    for line in bad:
        print(line)
    shared = len(set(a) & set(b))
    print("%s: %d tensors byte-identical, %d reward memories equal across the 1.1 framing"
          % ("SAME" if not bad else "DIFFERENT", shared - sum(l.startswith("differs") for l in bad),
             paired))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
