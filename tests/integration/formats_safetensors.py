#!/usr/bin/python3
"""Read a checkpoint's model.safetensors with json, struct and numpy only.

Checks the format rules (length prefix, header padding, dtypes, shapes,
contiguous offsets, exact length), the manifest's size and SHA-256 of the
file, and that every tensor holds what formats_gen.c wrote: the values are
recomputed here from the same formulas with numpy.

Usage: formats_safetensors.py OUTDIR   (reads OUTDIR/expected.json)
"""
import hashlib
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U64": "<u8", "U8": "u1"}


def expected_tensors():
    O, H = 204, 256
    r = np.arange(H * O, dtype=np.float64).reshape(H, O)
    return {
        "policy.trunk.0.weight": (r * 0.25 - 1000.0).astype(np.float32),
        "policy.trunk.0.bias": (np.arange(H) * -0.5).astype(np.float32),
        "obs_norm.var": 1.0 / (np.arange(3) + 3.0),
        "blob.i32": (np.arange(24, dtype=np.int64) * 1000003 - 7).astype(np.int32).reshape(2, 3, 4),
        "adam.step": np.arange(5, dtype=np.int64) * -3000000000,
        "rng.rollout": np.array([0xFFFFFFFFFFFFFFFF - k for k in range(4)], dtype=np.uint64),
        "reward.room_discovery.state": np.arange(250, 257, dtype=np.uint8),
        "scalar": np.array(3.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }


def unique_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise SystemExit("duplicate key in the header")
    return dict(pairs)


def main():
    outdir = sys.argv[1]
    expected = json.load(open(outdir + "/expected.json"))
    ckdir = outdir + "/" + expected["checkpoint"]
    blob = open(ckdir + "/model.safetensors", "rb").read()
    manifest = json.load(open(ckdir + "/manifest.json"))
    meta = manifest["files"]["model.safetensors"]
    if meta["size"] != len(blob) or meta["sha256"] != hashlib.sha256(blob).hexdigest():
        raise SystemExit("manifest size/sha256 do not match model.safetensors")
    if manifest["format_version"] != 1 or manifest["iteration"] != 150:
        raise SystemExit("manifest fields wrong: %r" % manifest)

    (n,) = struct.unpack_from("<Q", blob, 0)
    if (8 + n) % 8 or n > 100000000 or 8 + n > len(blob):
        raise SystemExit("bad header length %d" % n)
    text = blob[8:8 + n].decode("utf-8")
    if not text.rstrip(" ").endswith("}"):
        raise SystemExit("header is not a JSON object padded with spaces")
    header = json.loads(text, object_pairs_hook=unique_keys)
    header.pop("__metadata__", None)
    data = blob[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    at = 0
    for begin, end, name in spans:
        if begin != at:
            raise SystemExit("tensor %s starts at %d, expected %d" % (name, begin, at))
        at = end
    if at != len(data):
        raise SystemExit("data is %d bytes, tensors cover %d" % (len(data), at))

    want = expected_tensors()
    if set(header) != set(want):
        raise SystemExit("tensors %s, expected %s" % (sorted(header), sorted(want)))
    for name, info in header.items():
        dt = np.dtype(DTYPES[info["dtype"]])
        shape = tuple(info["shape"])
        begin, end = info["data_offsets"]
        if end - begin != int(np.prod(shape, dtype=np.int64)) * dt.itemsize:
            raise SystemExit("tensor %s: size does not match shape" % name)
        if begin % dt.itemsize:
            raise SystemExit("tensor %s is not aligned to its element size" % name)
        got = np.frombuffer(data, dtype=dt, count=(end - begin) // dt.itemsize,
                            offset=begin).reshape(shape)
        w = want[name]
        if got.dtype != w.dtype.newbyteorder("<") or got.shape != w.shape \
                or not np.array_equal(got, w):
            raise SystemExit("tensor %s differs: %r vs %r" % (name, got.ravel()[:5], w.ravel()[:5]))
    print("formats_safetensors: %d tensors round-trip, %d bytes, checksum good"
          % (len(header), len(blob)))


if __name__ == "__main__":
    main()
