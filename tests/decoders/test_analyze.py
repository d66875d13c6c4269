"""decoders.analyze: every driver tried with the frame, detection result first, module state restored."""

from __future__ import annotations

import pytest

from decoders import InputError, decode, drivers
from decoders import encoder as enc
from decoders.analyze import analyze, forced

KEY = bytes(range(16))


def test_the_detected_driver_comes_first_and_others_are_listed() -> None:
    frame = enc.encode_oms("SEN", "12345678", 0x68, 0x07, 1, 0, [enc.total_volume(1.5)], mode=5, key=KEY)
    report = analyze(frame.hex(), KEY)
    assert report["auto"]["ok"] and report["auto"]["driver"] == "iperl"
    first = report["drivers"][0]
    assert first["driver"] == "iperl" and first["ok"] and first["detected"] and first["total_m3"] == 1.5
    assert {d["driver"] for d in report["drivers"]} == {d.name for d in drivers.ALL_DRIVERS}
    assert any(not d["ok"] for d in report["drivers"])  # proprietary drivers refuse an OMS frame
    assert all("error" in d for d in report["drivers"] if not d["ok"])


def test_without_the_key_nothing_decodes() -> None:
    frame = enc.encode_oms(records=[enc.total_volume(1.0)], mode=5, key=KEY)
    report = analyze(frame.hex())
    assert report["auto"]["ok"] is False and "key" in report["auto"]["error"].lower()


def test_forcing_restores_the_selection_even_after_an_error() -> None:
    saved = drivers.select, drivers.select_standard, drivers.select_mfct_security
    with pytest.raises(RuntimeError), forced(drivers.GENERIC):
        assert drivers.select_standard("SEN", 0x68, 7) is drivers.GENERIC
        raise RuntimeError
    assert (drivers.select, drivers.select_standard, drivers.select_mfct_security) == saved
    assert decode(enc.encode_oms("SEN", "12345678", 0x68, 7, 1, 0, [enc.total_volume(1.0)])).driver == "iperl"


def test_not_hex_is_an_input_error() -> None:
    with pytest.raises(InputError):
        analyze("zz")
