"""Meter identity and its bigint storage key."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.ids import manufacturer_code, manufacturer_letters, meter_key, split_meter_key
from core.types import ALARM_BITS, Alarm, alarm_mask, alarms_from_mask


@pytest.mark.parametrize(("letters", "code"), [("APA", 0x0601), ("KAM", 0x2C2D), ("DME", 0x11A5), ("ZRI", 0x6A49)])
def test_manufacturer_code_matches_the_fact_sheet(letters: str, code: int) -> None:
    assert manufacturer_code(letters) == code
    assert manufacturer_letters(code) == letters


def test_manufacturer_letters_masks_bit_15() -> None:
    assert manufacturer_letters(0x8614) == "APT"


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3),
       st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_meter_key_round_trips(letters: str, raw_id: int) -> None:
    meter_id = f"{raw_id:08X}"
    assert split_meter_key(meter_key(letters, meter_id)) == (letters, meter_id)


def test_meter_key_rejects_bad_ids() -> None:
    with pytest.raises(ValueError, match="8 hex"):
        meter_key("APA", "123")
    with pytest.raises(ValueError, match="three upper-case"):
        meter_key("ap", "12345678")


def test_alarm_mask_round_trips_and_is_stable() -> None:
    assert ALARM_BITS[Alarm.LEAK] == 1 and ALARM_BITS[Alarm.ERROR] == 1 << 9
    chosen = frozenset({Alarm.LEAK, Alarm.BATTERY_LOW, Alarm.REVERSE_FLOW})
    assert alarms_from_mask(alarm_mask(chosen)) == chosen
    assert alarm_mask(frozenset()) == 0
