"""Cryptographic primitives for wM-Bus security (thin wrappers over ``cryptography``).

AES-128-CBC without padding (TPL modes 5 and 7), AES-128-CTR (ELL, §2.7), AES-CMAC and the OMS KDF-A
(§2.5), and DES-CBC for the deprecated modes 2/3.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

ZERO_IV = bytes(16)


def aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CBC decrypt ``data`` (a multiple of 16 bytes), no padding."""
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """AES-128-CBC encrypt ``data`` (a multiple of 16 bytes), no padding."""
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_ctr(key: bytes, counter_block: bytes, data: bytes) -> bytes:
    """AES-128-CTR (encrypt = decrypt) with a 128-bit big-endian counter starting at ``counter_block``."""
    ctx = Cipher(algorithms.AES(key), modes.CTR(counter_block)).encryptor()
    return ctx.update(data) + ctx.finalize()


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (16 bytes) of ``data``."""
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()


def kdf_a(master_key: bytes, dc: int, mcr: bytes, meter_id: bytes) -> bytes:
    """OMS KDF-A: ``CMAC(K, DC ‖ MCR(4) ‖ ID(4) ‖ 07×7)``; DC 0x00 → Kenc, 0x01 → Kmac (meter → other)."""
    return aes_cmac(master_key, bytes((dc,)) + mcr + meter_id + b"\x07" * 7)


def des_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Single DES-CBC decrypt (deprecated TPL modes 2/3), as 3DES with K1 = K2 = K3."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

    dec = Cipher(TripleDES(key[:8] * 3), modes.CBC(iv[:8])).decryptor()
    return dec.update(data) + dec.finalize()


def des_cbc_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    """Single DES-CBC encrypt (for tests/simulators of modes 2/3)."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

    enc = Cipher(TripleDES(key[:8] * 3), modes.CBC(iv[:8])).encryptor()
    return enc.update(data) + enc.finalize()
