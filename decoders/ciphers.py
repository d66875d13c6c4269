"""Reusable per-key AES objects and the explicit cache that holds them (a caller-owned object, no globals).

Setting up an AES context in ``cryptography`` costs about 10 µs (OpenSSL looks the cipher up and expands the
key); the block operation itself is well under 1 µs. ECB is stateless from one block to the next, so one ECB
encryptor and one ECB decryptor per key serve every telegram of that meter:

* CBC decrypt: ``P_i = D_K(C_i) XOR C_(i-1)`` with ``C_(-1) = IV``; the XOR is one big-int operation.
* CTR: the keystream is ``E_K`` of consecutive 128-bit big-endian counter blocks.
* CMAC (RFC 4493): subkeys K1/K2 derived once per key, then a CBC-MAC chain over ``E_K``.

The results equal :mod:`decoders.crypto` (``tests/decoders/test_ciphers.py`` checks it).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_MASK128 = (1 << 128) - 1
_ECB = modes.ECB()  # a mode object holds no state; one serves every context
_RB = 0x87  # RFC 4493 constant for 128-bit blocks


def _shift1(block: int) -> int:
    out = (block << 1) & _MASK128
    return out ^ _RB if block >> 127 else out


class AesKey:
    """One AES-128 key with its reusable ECB contexts (created lazily) and CMAC subkeys."""

    __slots__ = ("_dec", "_enc", "_k1", "_k2", "key")

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._enc: Any = None
        self._dec: Any = None
        self._k1 = self._k2 = 0

    def encrypt_blocks(self, data: bytes) -> bytes:
        """Raw AES (ECB) encryption of whole 16-byte blocks."""
        if self._enc is None:
            self._enc = Cipher(algorithms.AES(self.key), _ECB).encryptor()
        out: bytes = self._enc.update(data)
        return out

    def cbc_decrypt(self, iv: bytes, data: bytes) -> bytes:
        """AES-128-CBC decrypt ``data`` (a multiple of 16 bytes), no padding."""
        if self._dec is None:
            self._dec = Cipher(algorithms.AES(self.key), _ECB).decryptor()
        n = len(data)
        if n == 0:
            return b""
        raw = self._dec.update(data)
        return (int.from_bytes(raw, "big") ^ int.from_bytes(iv + data[: n - 16], "big")).to_bytes(n, "big")

    def ctr(self, counter_block: bytes, data: bytes) -> bytes:
        """AES-128-CTR (encrypt = decrypt) with a 128-bit big-endian counter starting at ``counter_block``."""
        n = len(data)
        if n == 0:
            return b""
        c0 = int.from_bytes(counter_block, "big")
        blocks = b"".join([((c0 + i) & _MASK128).to_bytes(16, "big") for i in range(-(-n // 16))])
        stream = self.encrypt_blocks(blocks)[:n]
        return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")

    def cmac(self, data: bytes) -> bytes:
        """AES-CMAC (16 bytes) of ``data`` (RFC 4493)."""
        if not self._k1:
            self._k1 = _shift1(int.from_bytes(self.encrypt_blocks(bytes(16)), "big"))
            self._k2 = _shift1(self._k1)
        n = len(data)
        full = n and n % 16 == 0
        last_at = n - 16 if full else n - n % 16
        last = data[last_at:]
        if full:
            tail = int.from_bytes(last, "big") ^ self._k1
        else:
            tail = int.from_bytes(last + b"\x80" + bytes(15 - len(last)), "big") ^ self._k2
        x = 0
        for i in range(0, last_at, 16):
            x = int.from_bytes(self.encrypt_blocks((x ^ int.from_bytes(data[i : i + 16], "big")).to_bytes(16, "big")))
        return self.encrypt_blocks((x ^ tail).to_bytes(16, "big"))


class CipherCache:
    """Master key → :class:`AesKey`, bounded (least recently used dropped first). One per worker/stream.

    Only long-lived keys belong here (meter master keys); per-telegram derived keys (mode 7 KDF-A) change
    with every telegram and go straight to :mod:`decoders.crypto`.
    """

    __slots__ = ("_keys", "_max")

    def __init__(self, max_size: int = 4096) -> None:
        self._keys: dict[bytes, AesKey] = {}
        self._max = max_size

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, key: bytes) -> AesKey:
        """The reusable AES object for ``key``."""
        keys = self._keys
        found = keys.pop(key, None)
        if found is None:
            found = AesKey(key)
            if len(keys) >= self._max:
                del keys[next(iter(keys))]
        keys[key] = found  # (re)insert as most recent
        return found
