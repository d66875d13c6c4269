"""decoders.jsonout: the records-free dict equals Telegram.to_json_dict; wmbusmeters' names; text lines."""

from __future__ import annotations

from datetime import date, datetime

from core.types import Alarm
from decoders import CompactFormatCache, DecodeError, Decoder, HistoryEntry, Telegram, decode
from decoders import encoder as enc
from decoders.drivers import ALL_DRIVERS
from decoders.jsonout import fields_line, human_line, select, telegram_dict, wmbusmeters_dict


def _case_telegrams() -> list[Telegram]:
    out = []
    for driver in ALL_DRIVERS:
        for case in driver.cases():
            key = bytes.fromhex(case.key) if case.key else None
            dec = Decoder(None if key is None else (lambda _m, _i, k=key: (k,)), compact_formats=CompactFormatCache())
            try:
                for earlier in case.preceding:
                    dec.decode(bytes.fromhex(earlier))
                out.append(dec.decode(bytes.fromhex(case.hex)))
            except DecodeError:
                continue
    return out


def test_records_free_dict_equals_to_json_dict_for_every_driver_case() -> None:
    telegrams = _case_telegrams()
    assert len(telegrams) >= 30
    for tg in telegrams:
        full = tg.to_json_dict()
        assert telegram_dict(tg, records=True) == full
        del full["records"]
        assert telegram_dict(tg) == full, tg.driver


def test_every_converted_field_is_converted() -> None:
    tg = decode(enc.encode_oms(records=[enc.total_volume(5.0)]))
    import dataclasses

    busy = dataclasses.replace(tg, alarms=frozenset({Alarm.LEAK, Alarm.BURST}), target_date=date(2026, 1, 31),
                               meter_datetime=datetime(2026, 2, 1, 8, 30), alarms_history=frozenset({Alarm.DRY}),
                               history=(HistoryEntry(1, date(2026, 1, 31), 4.5),))
    full = busy.to_json_dict()
    del full["records"]
    assert telegram_dict(busy) == full
    assert telegram_dict(busy)["alarms"] == ["burst", "leak"]


def test_wmbusmeters_names_and_status() -> None:
    tg = decode(enc.encode_oms("SEN", "33225544", 0x68, 0x07, 1, 0, [enc.total_volume(123.529), enc.flow(0.0)]))
    out = wmbusmeters_dict(tg, "2024-03-03T18:37:00Z", name="MyTapWater")
    assert out["_"] == "telegram" and out["media"] == "water" and out["meter"] == "iperl"
    assert out["name"] == "MyTapWater" and out["id"] == "33225544" and out["total_m3"] == 123.529
    assert out["current_status"] == "OK" and out["timestamp"] == "2024-03-03T18:37:00Z"
    leaking = wmbusmeters_dict(__import__("dataclasses").replace(tg, alarms=frozenset({Alarm.LEAK, Alarm.DRY})), "t")
    assert leaking["current_status"] == "DRY LEAK"


def test_select_fields_and_human_lines() -> None:
    obj = {"meter_id": "1", "total_m3": 2.5, "alarms": ["leak", "dry"], "error": None, "ok": True, "driver": "x"}
    assert select(obj, ["total_m3", "nope"]) == {"total_m3": 2.5, "nope": None}
    assert fields_line(obj, ["meter_id", "total_m3", "alarms", "error"]) == "1;2.5;leak,dry;"
    assert human_line(obj) == "1\tx\t2.500 m³\tLEAK DRY"
    assert human_line({"ok": False, "meter_id": "9", "error": "TPL: bad"}) == "9\tERROR\tTPL: bad"
