"""The driver contract: detection keys, an extract function, and the driver's own test cases.

A driver is one module exposing ``DRIVER = Driver(...)``. Standard OMS meters need only a detection
tuple and, where they have one, a table mapping error-flag bits to alarms; code is only for proprietary
payloads. ``Fields`` is a plain dict of Telegram field names to values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.types import Alarm
from decoders.frame import Frame
from decoders.model import Record

Fields = dict[str, Any]
# records, TPL status byte, current alarms, history alarms → adds alarms in place (see ``Driver.refine``)
Refine = Callable[[tuple[Record, ...], int | None, set[Alarm], set[Alarm]], None]


@dataclass(frozen=True, slots=True)
class Match:
    """Detection key: manufacturer letters, optional version set and device-type set."""

    manufacturer: str
    versions: frozenset[int] | None = None
    device_types: frozenset[int] | None = None

    def matches(self, manufacturer: str, version: int, device_type: int) -> bool:
        """True when the frame's M/version/type fit this key."""
        return (
            manufacturer == self.manufacturer
            and (self.versions is None or version in self.versions)
            and (self.device_types is None or device_type in self.device_types)
        )


@dataclass(frozen=True, slots=True)
class Case:
    """A driver test case: telegram hex (as received), key hex or None, expected Telegram fields."""

    hex: str
    key: str | None
    expect: Mapping[str, Any]
    preceding: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True, slots=True)
class AlarmBits:
    """Bits of an integer status value → current alarms and history ("was …") alarms."""

    current: Mapping[int, Alarm] = field(default_factory=dict)
    history: Mapping[int, Alarm] = field(default_factory=dict)

    def apply(self, value: int, alarms: set[Alarm], history: set[Alarm]) -> None:
        """Add the alarms whose bits are set in ``value``."""
        for mask, alarm in self.current.items():
            if value & mask:
                alarms.add(alarm)
        for mask, alarm in self.history.items():
            if value & mask:
                history.add(alarm)


@dataclass(frozen=True, slots=True)
class Driver:
    """A meter driver: detection, field extraction, proprietary CIs it decodes, and its test cases."""

    name: str
    matches: tuple[Match, ...]
    extract: Callable[[Frame], Fields]
    # The driver's test cases, built when called (many are encoded, some encrypted: building them all at import
    # would cost a one-telegram start-up more than decoding does).
    cases: Callable[[], tuple[Case, ...]]
    cis: frozenset[int] = frozenset()
    mfct_security: bool = False
    description: str = ""
    # Set when ``extract`` is exactly ``oms_fields(frame, *oms)`` (error-flag bits, status table): standard
    # frames of such a driver take the decoder's fused fast path (``decoders.stack._fast``).
    oms: tuple[AlarmBits | None, bool | AlarmBits] | None = None
    # With ``oms``: ``extract`` is ``oms_fields(frame, *oms)`` followed by
    # ``refine(frame.records, frame.status, fields["alarms"], fields["alarms_history"])``, which only adds
    # alarms (a manufacturer's status bits or info-code record); such drivers take the fused path too.
    refine: Refine | None = None

    def detects(self, manufacturer: str, version: int, device_type: int) -> bool:
        """True when any detection key fits."""
        return any(m.matches(manufacturer, version, device_type) for m in self.matches)
