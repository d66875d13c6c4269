"""Apator APT-WMBUS-NA-1 ("apatorna1", APA v0x14 type 7): CI 0xA0/0xA1 with its own AES block.

After the CI: ACC, status (plain), 16 bytes AES-128-CBC with the mode-5 IV (M ‖ A ‖ ACC×8). Plaintext:
filler 0x2F (our key check), packed total (4 LE), seconds since 2000-01-01 (4 LE), historic data (5),
current status, historic status (fact sheet §4.1; wmbusmeters ``apatorna1.xmq``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from core.types import Alarm
from decoders import crypto
from decoders.drivers.base import AlarmBits, Case, Driver, Fields, Match
from decoders.errors import DriverError, KeyMissingError, WrongKeyError
from decoders.frame import Frame

STATUS = AlarmBits(
    current={
        0x20: Alarm.REVERSE_FLOW,
        0x08: Alarm.LEAK,
        0x04: Alarm.REMOVED,
        0x02: Alarm.MAGNETIC,
        0x01: Alarm.BATTERY_LOW,
    }
)
HISTORY = AlarmBits(
    history={
        0x20: Alarm.REVERSE_FLOW,
        0x08: Alarm.LEAK,
        0x04: Alarm.REMOVED,
        0x02: Alarm.MAGNETIC,
        0x01: Alarm.BATTERY_LOW,
    }
)
EPOCH = datetime(2000, 1, 1)


def _decrypt(frame: Frame) -> bytes:
    if len(frame.payload) < 18:
        raise DriverError("apatorna1: payload shorter than ACC + status + one AES block")
    if not frame.keys:
        raise KeyMissingError("apatorna1: payload encrypted and no key for this meter", layer="security")
    acc = frame.payload[0]
    iv = frame.data[2:10] + bytes((acc,)) * 8
    for key in frame.keys:
        if len(key) == 16:
            plain = crypto.aes_cbc_decrypt(key, iv, frame.payload[2:18])
            if plain[0] == 0x2F:
                return plain
    raise WrongKeyError("apatorna1: decrypted block does not start with 2F — wrong key", layer="security")


def packed_volume(raw: int) -> float:
    """Apator packed volume: ((raw >> 8)·16 + (raw & 0xF)) · 10^((raw >> 4) & 3) litres → m³."""
    return float(((raw >> 8) * 16 + (raw & 0x0F)) * 10 ** ((raw >> 4) & 3) / 1000)


def extract(frame: Frame) -> Fields:
    """Total, meter time and status bytes from the decrypted block."""
    plain = _decrypt(frame)
    alarms: set[Alarm] = set()
    history: set[Alarm] = set()
    STATUS.apply(plain[14], alarms, history)
    HISTORY.apply(plain[15], alarms, history)
    return {
        "total_m3": packed_volume(int.from_bytes(plain[1:5], "little")),
        "meter_datetime": EPOCH + timedelta(seconds=int.from_bytes(plain[5:9], "little")),
        "access_number": frame.payload[0],
        "status": frame.payload[1],
        "alarms": alarms,
        "alarms_history": history,
        "payload": plain,
    }


def _cases() -> tuple[Case, ...]:
    """This driver's test cases (built when asked: encoding them at import would slow every start-up)."""
    return (
        # Fact sheet V11 (wmbusmeters apatorna1.xmq), all-zero key.
        Case(
            "1C440106813591041407A0B000266A705474DDB80D9A0EB9AE2EF29D96",
            "00000000000000000000000000000000",
            {
                "meter_id": "04913581",
                "total_m3": 345.312,
                "meter_datetime": "2024-03-23T15:22:20",
                "alarms": [],
                "alarms_history": [],
            },
        ),
    )


DRIVER = Driver(
    name="apatorna1",
    matches=(Match("APA", frozenset({0x14}), frozenset({0x07})),),
    extract=extract,
    cis=frozenset({0xA0, 0xA1}),
    description="Apator APT-WMBUS-NA-1: proprietary AES block after CI 0xA0/0xA1.",
    cases=_cases,
)
