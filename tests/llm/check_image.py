#!/usr/bin/python3
"""Check the image part of a recorded llm_vision request.

Reads the test server's JSONL log, takes request number --index (0-based,
negative from the end), finds the user message's image_url part, checks
the data URL's MIME type, decodes the PNG or JPEG with the decoders below
(standard library and numpy only, independent of libpng/libjpeg), checks
the size, and (unless --size-only) compares the pixels with the test frame
pattern scaled by nearest neighbour: exactly for PNG, within
--max-mean-error per channel for JPEG.  Exit 0 when everything holds, 1 with a message otherwise.
"""

import argparse
import base64
import json
import struct
import sys
import zlib

import numpy as np

FRAME_W, FRAME_H = 160, 144


def frame_pattern():
    """The frame the C test sends (llm test: fill_frame)."""
    x = np.arange(FRAME_W)[None, :].repeat(FRAME_H, 0)
    y = np.arange(FRAME_H)[:, None].repeat(FRAME_W, 1)
    r = (x * 255) // (FRAME_W - 1)
    g = (y * 255) // (FRAME_H - 1)
    b = np.where(((x // 8) + (y // 8)) % 2 == 1, 200, 40)
    return np.stack([r, g, b], axis=2).astype(np.uint8)


def scaled_pattern(w, h):
    f = frame_pattern()
    sx = ((2 * np.arange(w) + 1) * FRAME_W) // (2 * w)
    sy = ((2 * np.arange(h) + 1) * FRAME_H) // (2 * h)
    return f[sy][:, sx]


# ---- PNG ------------------------------------------------------------------

def decode_png(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("no PNG signature")
    pos, idat, ihdr, seen_end = 8, b"", None, False
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) & 0xffffffff != crc:
            raise ValueError("bad CRC in chunk %r" % ctype)
        if ctype == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat += body
        elif ctype == b"IEND":
            seen_end = True
            break
        pos += 12 + length
    if not ihdr or not seen_end:
        raise ValueError("missing IHDR or IEND")
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype != 2 or interlace != 0:
        raise ValueError("expected 8-bit RGB non-interlaced, got depth %d type %d" % (depth, ctype))
    raw = zlib.decompress(idat)
    stride = w * 3
    if len(raw) != h * (stride + 1):
        raise ValueError("IDAT holds %d bytes, expected %d" % (len(raw), h * (stride + 1)))
    out = np.zeros((h, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride,
                             offset=y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, dtype=np.int32)
        if ft == 0:
            cur = line
        elif ft == 2:
            cur = (line + prev) & 255
        elif ft in (1, 3, 4):
            for i in range(stride):
                a = cur[i - 3] if i >= 3 else 0
                b = prev[i]
                c = prev[i - 3] if i >= 3 else 0
                if ft == 1:
                    pred = a
                elif ft == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                cur[i] = (line[i] + pred) & 255
        else:
            raise ValueError("bad filter type %d" % ft)
        out[y] = cur
        prev = cur
    return out.reshape(h, w, 3).astype(np.uint8)


# ---- baseline JPEG ----------------------------------------------------------

ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48,
          41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15,
          23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63]


def idct_matrix():
    c = np.zeros((8, 8))
    for u in range(8):
        for x in range(8):
            a = np.sqrt(0.125) if u == 0 else 0.5
            c[u, x] = a * np.cos((2 * x + 1) * u * np.pi / 16)
    return c


class Bits:
    def __init__(self, data):
        self.data, self.pos, self.acc, self.n = data, 0, 0, 0

    def bit(self):
        if self.n == 0:
            if self.pos >= len(self.data):
                raise ValueError("entropy data ends early")
            self.acc, self.n = self.data[self.pos], 8
            self.pos += 1
        self.n -= 1
        return (self.acc >> self.n) & 1

    def bits(self, k):
        v = 0
        for _ in range(k):
            v = (v << 1) | self.bit()
        return v


def huffman_table(counts, symbols):
    table, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            table[(length, code)] = symbols[k]
            code += 1
            k += 1
        code <<= 1
    return table


def huff_decode(bits, table):
    code = 0
    for length in range(1, 17):
        code = (code << 1) | bits.bit()
        if (length, code) in table:
            return table[(length, code)]
    raise ValueError("bad Huffman code")


def extend(v, s):
    return v - (1 << s) + 1 if s and v < (1 << (s - 1)) else v


def decode_jpeg(data):
    if data[:2] != b"\xff\xd8":
        raise ValueError("no JPEG SOI marker")
    pos, qt, ht, frame, scan = 2, {}, {}, None, None
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError("expected a marker at %d" % pos)
        marker = data[pos + 1]
        pos += 2
        if marker == 0xD9:
            break
        (length,) = struct.unpack(">H", data[pos:pos + 2])
        seg = data[pos + 2:pos + length]
        if marker == 0xDB:
            i = 0
            while i < len(seg):
                pq, tq = seg[i] >> 4, seg[i] & 15
                if pq:
                    raise ValueError("16-bit quantisation tables unsupported")
                qt[tq] = list(seg[i + 1:i + 65])
                i += 65
        elif marker == 0xC4:
            i = 0
            while i < len(seg):
                tc, th = seg[i] >> 4, seg[i] & 15
                counts = list(seg[i + 1:i + 17])
                n = sum(counts)
                ht[(tc, th)] = huffman_table(counts, list(seg[i + 17:i + 17 + n]))
                i += 17 + n
        elif marker == 0xC0:
            p, h, w, nc = struct.unpack(">BHHB", seg[:6])
            if p != 8:
                raise ValueError("precision %d" % p)
            comps = []
            for k in range(nc):
                cid, hv, tq = seg[6 + 3 * k:9 + 3 * k]
                comps.append({"id": cid, "h": hv >> 4, "v": hv & 15, "tq": tq})
            frame = (w, h, comps)
        elif marker in (0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            raise ValueError("only baseline JPEG is decoded here (SOF%d)" % (marker - 0xC0))
        elif marker == 0xDD:
            if struct.unpack(">H", seg[:2])[0]:
                raise ValueError("restart intervals unsupported")
        elif marker == 0xDA:
            ns = seg[0]
            scan = [(seg[1 + 2 * k], seg[2 + 2 * k] >> 4, seg[2 + 2 * k] & 15) for k in range(ns)]
            pos += length
            end = pos
            while not (data[end] == 0xFF and data[end + 1] not in (0x00,)
                       and not 0xD0 <= data[end + 1] <= 0xD7):
                end += 1
            entropy = data[pos:end].replace(b"\xff\x00", b"\xff")
            pos = end
            return finish_jpeg(frame, scan, qt, ht, entropy, data[end:end + 2] == b"\xff\xd9")
        pos += length
    raise ValueError("no scan")


def finish_jpeg(frame, scan, qt, ht, entropy, has_eoi):
    if not frame or not has_eoi:
        raise ValueError("missing SOF0 or EOI")
    w, h, comps = frame
    hmax = max(c["h"] for c in comps)
    vmax = max(c["v"] for c in comps)
    mcux = (w + 8 * hmax - 1) // (8 * hmax)
    mcuy = (h + 8 * vmax - 1) // (8 * vmax)
    byid = {c["id"]: c for c in comps}
    planes = {c["id"]: np.zeros((mcuy * c["v"] * 8, mcux * c["h"] * 8)) for c in comps}
    pred = {c["id"]: 0 for c in comps}
    cm = idct_matrix()
    bits = Bits(entropy)
    for my in range(mcuy):
        for mx in range(mcux):
            for cid, td, ta in scan:
                c = byid[cid]
                q = qt[c["tq"]]
                for by in range(c["v"]):
                    for bx in range(c["h"]):
                        coef = [0] * 64
                        s = huff_decode(bits, ht[(0, td)])
                        pred[cid] += extend(bits.bits(s), s)
                        coef[0] = pred[cid] * q[0]
                        k = 1
                        while k < 64:
                            rs = huff_decode(bits, ht[(1, ta)])
                            r, s = rs >> 4, rs & 15
                            if s == 0:
                                if r != 15:
                                    break
                                k += 16
                                continue
                            k += r
                            coef[ZIGZAG[k]] = extend(bits.bits(s), s) * q[k]
                            k += 1
                        block = cm.T @ np.array(coef, dtype=float).reshape(8, 8) @ cm
                        y0 = (my * c["v"] + by) * 8
                        x0 = (mx * c["h"] + bx) * 8
                        planes[cid][y0:y0 + 8, x0:x0 + 8] = block + 128
    ids = [c["id"] for c in comps]
    full = []
    for cid in ids:
        c = byid[cid]
        p = planes[cid].repeat(vmax // c["v"], 0).repeat(hmax // c["h"], 1)
        full.append(p[:h, :w])
    if len(full) != 3:
        raise ValueError("expected 3 components, got %d" % len(full))
    yy, cb, cr = full[0], full[1] - 128, full[2] - 128
    rgb = np.stack([yy + 1.402 * cr, yy - 0.344136 * cb - 0.714136 * cr, yy + 1.772 * cb], 2)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--index", type=int, default=-1)
    ap.add_argument("--format", choices=["png", "jpeg"], required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--max-mean-error", type=float, default=8.0)
    ap.add_argument("--size-only", action="store_true",
                    help="a frame of a real env: check that it decodes, and its size")
    a = ap.parse_args()

    with open(a.log, encoding="utf-8") as f:
        requests = [json.loads(line) for line in f if line.strip()]
    body = json.loads(requests[a.index]["body"])
    parts = body["messages"][-1]["content"]
    if not isinstance(parts, list):
        print("check_image: the user content is not a list of parts")
        return 1
    images = [p for p in parts if p.get("type") == "image_url"]
    texts = [p for p in parts if p.get("type") == "text" and p.get("text")]
    if len(images) != 1 or len(texts) != 1:
        print("check_image: expected one text part and one image part, got %r"
              % [p.get("type") for p in parts])
        return 1
    url = images[0]["image_url"]["url"]
    prefix = "data:image/%s;base64," % a.format
    if not url.startswith(prefix):
        print("check_image: data URL starts with %r, expected %r" % (url[:32], prefix))
        return 1
    data = base64.b64decode(url[len(prefix):], validate=True)
    try:
        img = decode_png(data) if a.format == "png" else decode_jpeg(data)
    except (ValueError, KeyError, IndexError, zlib.error) as e:
        print("check_image: %s does not decode: %s" % (a.format, e))
        return 1
    if img.shape != (a.height, a.width, 3):
        print("check_image: size %dx%d, expected %dx%d"
              % (img.shape[1], img.shape[0], a.width, a.height))
        return 1
    if a.size_only:
        print("check_image: %s %dx%d decodes (%d bytes)" % (a.format, a.width, a.height,
                                                           len(data)))
        return 0
    want = scaled_pattern(a.width, a.height)
    err = np.abs(img.astype(int) - want.astype(int))
    if a.format == "png" and err.max() != 0:
        print("check_image: PNG pixels differ from the scaled frame (max error %d)" % err.max())
        return 1
    if err.mean() > a.max_mean_error:
        print("check_image: mean error %.2f > %.2f" % (err.mean(), a.max_mean_error))
        return 1
    print("check_image: %s %dx%d ok (%d bytes, mean error %.2f)"
          % (a.format, a.width, a.height, len(data), err.mean()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
