"""Meter identity with a long TPL header (CI 0x72) behind a radio converter or repeater: the TPL address is the
meter (manufacturer, id, version, type), the DLL address is kept as the link address, and a failing frame names
the TPL meter too (keys are looked up by it)."""

from __future__ import annotations

import pytest

from decoders import decode, encoder
from decoders.errors import KeyMissingError, WrongKeyError

KEY = bytes.fromhex("000102030405060708090A0B0C0D0E0F")


def _frame(*, mode: int = 5, frame_format: str = "A") -> bytes:
    return encoder.encode_oms(
        "ZRI", "44556677", 0x01, 0x16, 0x21, 0x00, [encoder.volume(7.125)],
        mode=mode, key=KEY if mode else None, long_header=True, frame_format=frame_format,
        link_manufacturer="ZRI", link_meter_id="99887766", link_version=0x18, link_device_type=0x37,
    )


@pytest.mark.parametrize("mode", [0, 5])
def test_long_header_address_is_the_meter_and_dll_address_the_link(mode: int) -> None:
    seen: list[tuple[str, str]] = []

    def keys(m: str, i: str) -> list[bytes]:
        seen.append((m, i))
        return [KEY]

    tg = decode(_frame(mode=mode), keys)
    assert (tg.manufacturer, tg.meter_id, tg.version, tg.device_type) == ("ZRI", "44556677", 0x01, 0x16)
    assert (tg.link_manufacturer, tg.link_meter_id) == ("ZRI", "99887766")
    assert tg.medium == "cold water" and tg.total_m3 == pytest.approx(7.125)
    assert all(ident == ("ZRI", "44556677") for ident in seen)
    assert tg.to_json_dict()["link_meter_id"] == "99887766"


def test_missing_key_error_names_the_tpl_meter() -> None:
    with pytest.raises(KeyMissingError) as info:
        decode(_frame(), None)
    assert (info.value.manufacturer, info.value.meter_id) == ("ZRI", "44556677")


def test_wrong_key_error_names_the_tpl_meter() -> None:
    with pytest.raises(WrongKeyError) as info:
        decode(_frame(), lambda m, i: [bytes(16)])
    assert info.value.meter_id == "44556677"


def test_short_header_error_names_the_link_meter() -> None:
    frame = encoder.encode_oms("KAW", "12121212", 0x01, 0x07, 1, 0, [encoder.volume(1.0)], mode=5, key=KEY)
    with pytest.raises(KeyMissingError) as info:
        decode(frame, None)
    assert (info.value.manufacturer, info.value.meter_id) == ("KAW", "12121212")
