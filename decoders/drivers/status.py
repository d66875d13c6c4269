"""How each manufacturer reads the TPL status byte: the standard bits, and where a manufacturer differs.

EN 13757-7 / OMS Vol. 2 (fact sheet §2.2): bits 1–0 application state (00 ok, 01 busy, 10 error, 11 abnormal
condition), 0x04 power low, 0x08 permanent error, 0x10 temporary error, 0xE0 manufacturer specific. Bits 1–0
raise no alarm on their own: meters use them inconsistently (Apator sets 11 in normal operation, Kaden/Ecomess
mark a leak with 11 plus a manufacturer bit, see ``kaden.refine``).

A driver names its table in ``Driver.oms`` (second element) or ``oms_fields(..., use_status=…)``: ``True`` is
:data:`STANDARD`, ``False`` means the byte is no alarm source for that meter, or one of the tables below.
"""

from __future__ import annotations

from core.types import Alarm
from decoders.drivers.base import AlarmBits

STANDARD = AlarmBits(current={0x04: Alarm.BATTERY_LOW, 0x08: Alarm.ERROR, 0x10: Alarm.ERROR})

# BMETERS (BMT: Hydrodigit, IWM-TX5, RFM-TX1 …). BMeters' RF-OMS telegram specification, as quoted in
# wmbusmeters PR #1719/#1763 (rfmamb): bit 2 low battery, bit 3 MODULE_REMOVED (not a permanent error: "all 24
# tested sensors were showing false PERMANENT_ERROR"), bit 4 sensor read error; wmbusmeters issue #1586 / PR
# #1587: bit 6 (0x40) = tamper, seen on an IWM-TX5 after an NFC read attempt.
BMETERS = AlarmBits(
    current={0x04: Alarm.BATTERY_LOW, 0x08: Alarm.REMOVED, 0x10: Alarm.ERROR, 0x40: Alarm.TAMPER},
)

# Zenner Minomess (ZRI): the standard bits plus "was" flags in the manufacturer bits (wmbusmeters ``minomess.xmq``
# ``mfct_tpl_status_bits``: 0x20 was leaking, 0x40 was tampered, 0x80 was removed) → history.
ZENNER = AlarmBits(
    current=dict(STANDARD.current),
    history={0x20: Alarm.LEAK, 0x40: Alarm.TAMPER, 0x80: Alarm.REMOVED},
)
