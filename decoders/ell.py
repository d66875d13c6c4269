"""Extended link layer (CI 0x8C–0x8F; 0x86 is rejected) with AES-128-CTR payload decryption (fact sheet §2.7).

SN (4 bytes LE): bits 31–29 ENC (0 none, 1 AES-128-CTR). Counter block =
``M(2) ‖ A(6) ‖ CC & ~0x12 ‖ SN(4) ‖ FN 00 00 ‖ BC 00``; after decryption the first two bytes are the
payload CRC (LE) over the rest — the key check (Kamstrup frames carry no 2F2F).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from decoders import wire
from decoders.ciphers import CipherCache
from decoders.crc import crc16
from decoders.errors import EllError, KeyMissingError, SecurityError, WrongKeyError

_LAYOUTS = {ci: (wire.ELL_FAST[ci], wire.ELL_FAST[ci].size, ci in (0x8D, 0x8F)) for ci in wire.ELL_FAST}


class Ell(NamedTuple):
    """Parsed ELL fields; ``encrypted`` tells whether the payload was AES-CTR protected."""

    ci: int
    cc: int
    acc: int
    sn: bytes | None
    encrypted: bool


def parse(
    data: bytes, pos: int, address: bytes, get_keys: Callable[[], Sequence[bytes]], ciphers: CipherCache
) -> tuple[Ell, bytes, int]:
    """Parse the ELL at ``data[pos]`` (the CI); decrypt the payload if needed.

    ``address`` is the DLL M(2) ‖ A(6) used in the counter block; ``get_keys`` is called only when the
    payload is encrypted. Returns the ELL, the (possibly decrypted) frame and the offset of the next CI.
    """
    ci = data[pos]
    if ci not in _LAYOUTS:
        raise EllError(f"ELL CI 0x{ci:02x} (variable-length ELL-V) not supported")
    compiled, size, has_sn = _LAYOUTS[ci]
    if pos + 1 + size + (2 if has_sn else 0) > len(data):
        raise EllError(f"ELL 0x{ci:02x}: header needs {size} bytes, frame too short")
    fields = compiled.unpack_from(data, pos + 1)
    cc, acc = fields[0], fields[1]
    nxt = pos + 1 + size
    if not has_sn:
        return Ell(ci, cc, acc, None, False), data, nxt
    sn = bytes(fields[-1])
    enc = int.from_bytes(sn, "little") >> 29
    ell = Ell(ci, cc, acc, sn, enc == 1)
    if enc == 0:
        return ell, data, nxt + 2
    if enc != 1:
        raise SecurityError(f"ELL session number: encryption {enc} not supported", layer="ELL")
    body = data[nxt:]
    keys = get_keys()
    if not keys and _crc_ok(body):  # a logged/replayed frame that was already decrypted
        return ell, data, nxt + 2
    if not keys:
        raise KeyMissingError("ELL AES-CTR: payload encrypted and no key for this meter", layer="ELL")
    counter = address + bytes((cc & ~0x12 & 0xFF,)) + sn + b"\x00\x00\x00"
    for key in keys:
        if len(key) != 16:
            continue
        plain = ciphers.get(key).ctr(counter, body)
        if _crc_ok(plain):
            return ell, data[:nxt] + plain, nxt + 2
    raise WrongKeyError("ELL AES-CTR: payload CRC mismatch after decryption — wrong key", layer="ELL")


def _crc_ok(body: bytes) -> bool:
    return len(body) >= 3 and crc16(body, 2) == body[0] | (body[1] << 8)
