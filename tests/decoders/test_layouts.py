"""Each declared construct layout round-trips, and its struct fast path reads the same fields."""

from __future__ import annotations

import os

import pytest

from decoders import layouts

LAYOUTS = [
    (layouts.DLL_HEADER, layouts.DLL_FAST),
    (layouts.TPL_SHORT, layouts.TPL_SHORT_FAST),
    (layouts.TPL_LONG, layouts.TPL_LONG_FAST),
    (layouts.ELL_I, layouts.ELL_FAST[0x8C]),
    (layouts.ELL_II, layouts.ELL_FAST[0x8D]),
    (layouts.ELL_III, layouts.ELL_FAST[0x8E]),
    (layouts.ELL_IV, layouts.ELL_FAST[0x8F]),
    (layouts.AFL_HEAD, layouts.AFL_HEAD_FAST),
]


@pytest.mark.parametrize(("declared", "fast"), LAYOUTS)
def test_layout_parse_build_round_trip_and_fast_path_agree(declared, fast) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        raw = os.urandom(declared.sizeof())
        parsed = declared.parse(raw)
        assert declared.build(parsed) == raw
        assert declared.compile().parse(raw) == parsed
        names = [s.name for s in declared.subcons]
        assert dict(zip(names, fast.unpack(raw), strict=True)) == {n: parsed[n] for n in names}
    assert layouts.fast_unpacker(declared).format == fast.format  # decoders.wire's literal formats
