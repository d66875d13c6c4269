"""Fixed wire layouts declared with construct and compiled once at import.

Byte layouts (all little-endian except link-layer CRCs; fact sheet §1.2, §2.1, §2.7, §2.8)::

    DLL header      L | C | M(2) | ID(4, BCD LSB first) | version | device type
    ELL-I  0x8C     CC | ACC
    ELL-II 0x8D     CC | ACC | SN(4) | payload CRC(2, encrypted when SN.ENC = 1)
    ELL-III 0x8E    CC | ACC | M2(2) | A2(6)
    ELL-IV 0x8F     CC | ACC | M2(2) | A2(6) | SN(4) | payload CRC(2)
    TPL short       ACC | STS | CFG(2)
    TPL long        ID(4) | M(2) | version | device type | ACC | STS | CFG(2)

The compiled parsers are immutable after import, so they are not module-level *mutable* state.
"""

from __future__ import annotations

import struct
from typing import Any

import construct as cs

from decoders import wire

DLL_HEADER = cs.Struct(
    "l" / cs.Int8ul,
    "c" / cs.Int8ul,
    "m" / cs.Int16ul,
    "id" / cs.Bytes(4),
    "version" / cs.Int8ul,
    "device_type" / cs.Int8ul,
)

TPL_SHORT = cs.Struct(
    "acc" / cs.Int8ul,
    "status" / cs.Int8ul,
    "cfg" / cs.Int16ul,
)

TPL_LONG = cs.Struct(
    "id" / cs.Bytes(4),
    "m" / cs.Int16ul,
    "version" / cs.Int8ul,
    "device_type" / cs.Int8ul,
    "acc" / cs.Int8ul,
    "status" / cs.Int8ul,
    "cfg" / cs.Int16ul,
)

ELL_I = cs.Struct("cc" / cs.Int8ul, "acc" / cs.Int8ul)
ELL_II = cs.Struct("cc" / cs.Int8ul, "acc" / cs.Int8ul, "sn" / cs.Bytes(4))
ELL_III = cs.Struct("cc" / cs.Int8ul, "acc" / cs.Int8ul, "m2" / cs.Int16ul, "a2" / cs.Bytes(6))
ELL_IV = cs.Struct("cc" / cs.Int8ul, "acc" / cs.Int8ul, "m2" / cs.Int16ul, "a2" / cs.Bytes(6), "sn" / cs.Bytes(4))

# AFL fixed part after the CI: AFLL | FCL(2); the optional fields follow per FCL bits (§2.8).
AFL_HEAD = cs.Struct("afll" / cs.Int8ul, "fcl" / cs.Int16ul)

DLL_HEADER_C = DLL_HEADER.compile()
TPL_SHORT_C = TPL_SHORT.compile()
TPL_LONG_C = TPL_LONG.compile()
ELL_I_C = ELL_I.compile()
ELL_II_C = ELL_II.compile()
ELL_III_C = ELL_III.compile()
ELL_IV_C = ELL_IV.compile()
AFL_HEAD_C = AFL_HEAD.compile()


def fast_unpacker(layout: cs.Struct) -> struct.Struct:
    """A ``struct.Struct`` with the same byte layout as a fixed construct ``Struct``.

    construct's ``parse`` builds a stream and a Container per call (~5 µs); the hot path unpacks tuples with
    the equivalent precompiled ``struct`` format (:mod:`decoders.wire`) instead.
    ``tests/decoders/test_layouts.py`` checks that both agree field by field.
    """
    fmt = "<"
    for sub in layout.subcons:
        inner = sub.subcon if isinstance(sub, cs.Renamed) else sub
        if isinstance(inner, cs.FormatField):
            fmt += inner.fmtstr[-1]
        elif isinstance(inner, cs.Bytes) and isinstance(inner.length, int):
            fmt += f"{inner.length}s"
        else:
            raise TypeError(f"{sub!r} is not a fixed-size field")
    return struct.Struct(fmt)


# The decode path's unpackers live in decoders.wire (no construct import); re-exported here.
DLL_FAST = wire.DLL_FAST
TPL_SHORT_FAST = wire.TPL_SHORT_FAST
TPL_LONG_FAST = wire.TPL_LONG_FAST
ELL_FAST = wire.ELL_FAST
AFL_HEAD_FAST = wire.AFL_HEAD_FAST


def parse(compiled: Any, data: bytes, offset: int, size: int) -> Any:
    """Parse a fixed layout of ``size`` bytes at ``offset`` with construct (slow path, tests, tools)."""
    return compiled.parse(data[offset : offset + size])
