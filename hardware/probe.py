"""Which receiver is on this port? Try each family's harmless identification commands in turn.

Order matters: an RC1180 in data mode takes any first byte 0x01–0xF6 as the length of a telegram to send, so
it is probed first (0x00 = enter config mode, then ``X`` to leave); the iM871A, Amber and CUL ignore a stray
0x00. rtl-wmbus / rtl_433 are pipes and cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hardware import PROBE_ORDER, get_driver
from hardware.errors import InitError
from hardware.receiver import run_steps
from hardware.transport import Transport, open_transport


@dataclass(frozen=True)
class ProbeResult:
    """The receiver family found and what it said about itself."""

    kind: str
    description: str


def probe(port: str, kinds: Sequence[str] = PROBE_ORDER, *,
          opener: Callable[[str, int], Transport] = open_transport) -> ProbeResult | None:
    """The first family in ``kinds`` that answers its probe on ``port``, or ``None``."""
    for kind in kinds:
        driver = get_driver(kind)
        captured: dict[str, bytes] = {}
        transport = opener(port, driver.baudrate)
        try:
            run_steps(transport, driver.framer(), driver.probe_steps(), lambda _e: None, captured)
        except InitError:
            continue
        finally:
            transport.close()
        describe = getattr(driver, "describe", None)
        return ProbeResult(kind, describe(captured) if describe else kind)
    return None
