"""The fixed wire layouts as precompiled ``struct`` formats: what the decode path unpacks.

The same layouts are declared with construct in :mod:`decoders.layouts` (parse/build for the encoder, tests and
tools); ``tests/decoders/test_layouts.py`` checks that each format here equals the one derived from its
declaration (``layouts.fast_unpacker``) and reads the same fields. Kept apart so that decoding does not import
construct (a tenth of a one-telegram ``odczyt decode`` start-up).
"""

from __future__ import annotations

import struct

DLL_FAST = struct.Struct("<BBH4sBB")  # L | C | M(2) | ID(4) | version | device type
TPL_SHORT_FAST = struct.Struct("<BBH")  # ACC | STS | CFG(2)
TPL_LONG_FAST = struct.Struct("<4sHBBBBH")  # ID(4) | M(2) | version | device type | ACC | STS | CFG(2)
ELL_FAST = {
    0x8C: struct.Struct("<BB"),  # CC | ACC
    0x8D: struct.Struct("<BB4s"),  # CC | ACC | SN(4)
    0x8E: struct.Struct("<BBH6s"),  # CC | ACC | M2(2) | A2(6)
    0x8F: struct.Struct("<BBH6s4s"),  # CC | ACC | M2(2) | A2(6) | SN(4)
}
AFL_HEAD_FAST = struct.Struct("<BH")  # AFLL | FCL(2)
