#!/usr/bin/python3
"""Read a TensorBoard event file written by gnarl, independently of gnarl's C.

Framing (TFRecord): u64 length, u32 masked CRC32C of the length bytes, data,
u32 masked CRC32C of the data, all little-endian.  The data are Event
protobufs, parsed here by google.protobuf from a schema declared below from
TensorBoard's event.proto / summary.proto field numbers.  Checks every CRC,
the first record's file_version, and that every expected (tag, step, value)
is present exactly once, as float32.

Usage: formats_tfevents.py OUTDIR   (reads OUTDIR/expected.json)
"""
import json
import struct
import sys

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def _crc_table():
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return table


CRC_TABLE = _crc_table()


def crc32c(data):
    """CRC32C a byte at a time from a table (event files with images are MBs)."""
    crc, table = 0xFFFFFFFF, CRC_TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def event_class():
    F = descriptor_pb2.FieldDescriptorProto
    fd = descriptor_pb2.FileDescriptorProto(name="gnarl_test_event.proto", package="tbtest",
                                            syntax="proto3")

    def message(name, fields):
        m = fd.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    message("Image", [("height", 1, F.TYPE_INT32, opt, None),
                      ("width", 2, F.TYPE_INT32, opt, None),
                      ("colorspace", 3, F.TYPE_INT32, opt, None),
                      ("encoded_image_string", 4, F.TYPE_BYTES, opt, None)])
    message("Value", [("tag", 1, F.TYPE_STRING, opt, None),
                      ("simple_value", 2, F.TYPE_FLOAT, opt, None),
                      ("image", 4, F.TYPE_MESSAGE, opt, ".tbtest.Image")])
    message("Summary", [("value", 1, F.TYPE_MESSAGE, rep, ".tbtest.Value")])
    message("Event", [("wall_time", 1, F.TYPE_DOUBLE, opt, None),
                      ("step", 2, F.TYPE_INT64, opt, None),
                      ("file_version", 3, F.TYPE_STRING, opt, None),
                      ("summary", 5, F.TYPE_MESSAGE, opt, ".tbtest.Summary")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    desc = pool.FindMessageTypeByName("tbtest.Event")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def records(blob):
    off = 0
    while off < len(blob):
        if off + 12 > len(blob):
            raise SystemExit("truncated record header at byte %d" % off)
        (n,) = struct.unpack_from("<Q", blob, off)
        (len_crc,) = struct.unpack_from("<I", blob, off + 8)
        if masked(crc32c(blob[off:off + 8])) != len_crc:
            raise SystemExit("bad length CRC at byte %d" % off)
        data = blob[off + 12:off + 12 + n]
        (data_crc,) = struct.unpack_from("<I", blob, off + 12 + n)
        if masked(crc32c(data)) != data_crc:
            raise SystemExit("bad data CRC at byte %d" % off)
        yield data
        off += 16 + n


def main():
    outdir = sys.argv[1]
    expected = json.load(open(outdir + "/expected.json"))
    Event = event_class()
    blob = open(outdir + "/" + expected["event_file"], "rb").read()
    events = []
    for data in records(blob):
        ev = Event()
        ev.ParseFromString(data)
        events.append(ev)
    if events[0].file_version != "brain.Event:2" or events[0].wall_time < 1e9:
        raise SystemExit("first record is not file_version brain.Event:2: %r" % events[0])
    if len(events) != 1 + expected["iterations"]:
        raise SystemExit("%d events, expected %d" % (len(events), 1 + expected["iterations"]))
    seen = {}
    for ev in events[1:]:
        for v in ev.summary.value:
            key = (v.tag, ev.step)
            if key in seen:
                raise SystemExit("duplicate scalar %r" % (key,))
            seen[key] = v.simple_value
    for tag, step, value in expected["scalars"]:
        got = seen.get((tag, step))
        want = float(np.float32(value))
        if got is None or got != want:
            raise SystemExit("scalar %s at step %d: got %r, expected %r" % (tag, step, got, want))
    print("formats_tfevents: %d events, %d scalars checked, CRCs good"
          % (len(events), len(expected["scalars"])))


if __name__ == "__main__":
    main()
