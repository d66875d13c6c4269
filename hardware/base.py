"""What every receiver driver is made of: a pure framer emitting events, and an init/reset recipe.

A *framer* turns an arbitrary byte stream (split reads, garbage, line noise) into events:

* :class:`Heard` — a wM-Bus frame, rebuilt to start with the L-field, with the receiver's RSSI;
* :class:`Reply` — an answer to a command (used by the init sequence and ``receivers probe``);
* :class:`Fault` — a framing or checksum error (counted, never fatal).

A *driver* names its serial speed, makes framers, and lists the :class:`Step` s that initialise or reset
the device. The serial loop (:mod:`hardware.receiver`) runs those; the framer never does I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from core.types import LinkMode
from hardware.errors import UnsupportedLinkModeError


@dataclass(frozen=True, slots=True)
class Heard:
    """A received wM-Bus frame: ``frame`` starts with L; ``has_crcs`` tells whether DLL CRCs are still in."""

    frame: bytes
    rssi_dbm: float | None = None
    link_mode: LinkMode | None = None
    has_crcs: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """A command response; ``key`` identifies it per protocol (e.g. ``(endpoint, msg_id)``, a text line)."""

    key: object
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Fault:
    """Bytes the framer had to discard: ``kind`` is ``"crc"`` (checksum) or ``"framing"``."""

    kind: str
    detail: str = ""


Event = Heard | Reply | Fault


class Framer(Protocol):
    """A pure byte-stream parser: bytes in, events out; keeps only the unparsed tail."""

    def feed(self, data: bytes) -> list[Event]:
        """Consume ``data`` and return every complete event it finishes."""
        ...

    def idle(self) -> list[Event]:
        """The line went quiet: give up on a partial frame that will never finish and resynchronise."""
        ...


class HostAwareFramer(Framer, Protocol):
    """A framer whose parsing depends on what the host sent (e.g. RC1180 config mode)."""

    def sent(self, data: bytes) -> None:
        """Tell the framer which bytes the host wrote."""
        ...


@dataclass(frozen=True, slots=True)
class Step:
    """One command of an init/reset recipe: send ``send``, then wait for a reply ``expect`` accepts."""

    send: bytes
    expect: Callable[[Reply], bool] | None = None
    what: str = ""
    timeout_s: float = 2.0
    capture: str | None = None  # store the accepted reply's payload under this name (device info)
    follow: Callable[[Reply], Sequence[Step]] | None = None  # further steps chosen by the reply


class Driver(Protocol):
    """A receiver family: its name, serial speed, framer and command recipes."""

    name: str
    baudrate: int

    def framer(self) -> Framer:
        """A new framer for a fresh connection."""
        ...

    def init_steps(self, link_mode: str) -> Sequence[Step]:
        """Commands that put the device into receive mode for ``link_mode``."""
        ...

    def reset_steps(self) -> Sequence[Step]:
        """Commands that reset the device (watchdog); may be empty."""
        ...

    def probe_steps(self) -> Sequence[Step]:
        """Harmless commands whose answers identify this receiver family."""
        ...

    def frame_link_mode(self, link_mode: str) -> LinkMode:
        """The :class:`LinkMode` to stamp on frames when the receiver does not report one per frame."""
        ...


T = TypeVar("T")


def link_mode_setting(table: Mapping[str, T], link_mode: str, receiver: str) -> T:
    """The receiver's own setting for a configured link mode; a clear error for a mode it cannot do."""
    try:
        return table[link_mode.upper()]
    except KeyError:
        raise UnsupportedLinkModeError(f"{receiver}: link mode {link_mode!r} not supported "
                                       f"(one of {sorted(table)})") from None


def link_mode_enum(link_mode: str) -> LinkMode:
    """Map a configured mode name (``"T1"``, ``"C1"``, ``"C1T1"`` …) to the per-frame :class:`LinkMode`."""
    try:
        return LinkMode(link_mode.upper())
    except ValueError:
        return LinkMode.UNKNOWN


class Buffer:
    """An append-and-consume byte buffer shared by the binary framers."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk

    def drop(self, n: int) -> None:
        del self.data[:n]

    def resync(self, sof: int) -> bool:
        """Drop bytes before the next ``sof`` byte (after position 0); True if anything was dropped."""
        nxt = self.data.find(sof, 1)
        if nxt < 0:
            dropped = bool(self.data)
            self.data.clear()
            return dropped
        del self.data[:nxt]
        return True
