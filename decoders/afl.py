"""Authentication and fragmentation layer (CI 0x90, fact sheet §2.8) and its AES-CMAC check.

``90 AFLL FCL(2) [MCL] [KI(2)] [MCR(4)] [MAC(n)] [ML(2)]``; MAC length from MCL bits 3–0 (AT).
MAC = CMAC(Kmac, MCL ‖ MCR ‖ [ML] ‖ bytes from the next CI to the end), truncated to its length.
"""

from __future__ import annotations

from typing import NamedTuple

from decoders import crypto, wire
from decoders.errors import AflError

# AT (MCL bits 3–0) → MAC length in bytes (wmbusmeters ``LIST_OF_AFL_AUTH_TYPES``).
MAC_LENGTHS = {0: 0, 3: 2, 4: 4, 5: 8, 6: 12, 7: 16, 8: 12}


class Afl(NamedTuple):
    """Parsed AFL fields."""

    fcl: int
    mcl: int | None
    ki: int | None
    mcr: bytes | None
    mac: bytes | None
    ml: bytes | None


def parse(data: bytes, pos: int) -> tuple[Afl, int]:
    """Parse the AFL whose CI (0x90) is at ``pos``; returns it and the offset of the next CI."""
    if pos + 4 > len(data):
        raise AflError("AFL header: frame too short")
    afll, fcl = wire.AFL_HEAD_FAST.unpack_from(data, pos + 1)
    end = pos + 2 + afll
    if afll < 2 or end > len(data):
        raise AflError(f"AFL length {afll} runs past the frame")
    if fcl & 0x4000:
        raise AflError("AFL fragmentation (more fragments) not supported")
    p = pos + 4
    mcl = ki = None
    mcr = mac = ml = None
    if fcl & 0x2000:
        mcl, p = data[p], p + 1
    if fcl & 0x0200:
        ki, p = int.from_bytes(data[p : p + 2], "little"), p + 2
    if fcl & 0x0800:
        mcr, p = bytes(data[p : p + 4]), p + 4
    if fcl & 0x0400:
        at = (mcl or 0) & 0x0F
        if at not in MAC_LENGTHS:
            raise AflError(f"AFL authentication type {at} not supported")
        n = MAC_LENGTHS[at]
        mac, p = bytes(data[p : p + n]), p + n
    if fcl & 0x1000:
        ml, p = bytes(data[p : p + 2]), p + 2
    if p > end:
        raise AflError("AFL fields run past the AFL length")
    return Afl(fcl, mcl, ki, mcr, mac, ml), end


def mac_ok(afl: Afl, kmac: bytes, data: bytes, next_ci: int) -> bool:
    """Check the AFL MAC over ``data[next_ci:]`` with the derived MAC key."""
    if afl.mac is None or afl.mcr is None or afl.mcl is None:
        return False
    msg = bytes((afl.mcl,)) + afl.mcr + (afl.ml or b"") + data[next_ci:]
    return crypto.aes_cmac(kmac, msg)[: len(afl.mac)] == afl.mac
