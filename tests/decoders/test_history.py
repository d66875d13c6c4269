"""``Telegram.history``: every stored volume with its storage's date, in storage order, in the CLI's JSON too."""

from __future__ import annotations

from datetime import date, datetime

from decoders import decode, encoder
from decoders.model import HistoryEntry


def _frame(records: list[bytes]) -> bytes:
    return encoder.encode_oms("XYZ", "10203040", 1, 7, 5, 0, [encoder.volume(12.5), *records])


def test_stored_volumes_become_history_in_storage_order_with_their_dates() -> None:
    tg = decode(_frame([
        encoder.volume(9.0, storage=8),
        encoder.billing_date(date(2026, 10, 31), storage=8),
        encoder.billing_volume(11.0),
        encoder.billing_date(date(2025, 12, 31)),
        encoder.volume(10.0, storage=2),
        encoder.date_time(datetime(2026, 11, 30, 23, 59), storage=2),
    ]))
    assert tg.history == (
        HistoryEntry(1, date(2025, 12, 31), 11.0),
        HistoryEntry(2, date(2026, 11, 30), 10.0),
        HistoryEntry(8, date(2026, 10, 31), 9.0),
    )
    assert (tg.target_m3, tg.target_date) == (11.0, date(2025, 12, 31))
    assert tg.to_json_dict()["history"][1] == {"storage": 2, "date": "2026-11-30", "value_m3": 10.0}


def test_undated_tariff_and_non_volume_storages_are_not_history() -> None:
    tg = decode(_frame([
        encoder.volume(3.0, storage=3),
        encoder.volume(4.0, storage=1, tariff=1),
        encoder.billing_date(date(2026, 1, 31), storage=4),
    ]))
    assert tg.history == (HistoryEntry(3, None, 3.0),)


def test_a_telegram_without_stored_values_has_no_history() -> None:
    tg = decode(_frame([]))
    assert tg.history == () and tg.to_json_dict()["history"] == []
