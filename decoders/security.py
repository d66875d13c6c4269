"""TPL security modes: 5 (AES-CBC, IV = M‖A‖ACC×8), 7 (KDF-A + AFL MAC, IV 0), 2/3 (DES, deprecated).

Each function takes the candidate keys, tries them in order and returns the plaintext application payload
(the decrypted part followed by any plain remainder). A payload that already starts with ``2F 2F`` while no
key is offered is taken as decrypted (a replayed log), as wmbusmeters does.
"""

from __future__ import annotations

from collections.abc import Sequence

from decoders import afl as afl_layer
from decoders import crypto
from decoders.ciphers import CipherCache
from decoders.errors import AflError, KeyMissingError, SecurityError, WrongKeyError

CHECK = b"\x2f\x2f"
KDF_PAD = b"\x07" * 7  # OMS KDF-A input: DC ‖ MCR(4) ‖ ID(4) ‖ 07×7 (see crypto.kdf_a)


def _span(n_blocks: int, available: int) -> int:
    wanted = n_blocks * 16 if n_blocks else available
    return min(wanted, available) // 16 * 16


def mode5(
    payload: bytes,
    iv: bytes,
    n_blocks: int,
    keys: Sequence[bytes],
    defaults: Sequence[bytes],
    ciphers: CipherCache,
) -> bytes:
    """Decrypt a mode-5 payload; raises KeyMissingError / WrongKeyError naming the TPL."""
    if not keys and payload[:2] == CHECK:
        return payload
    available = len(payload)
    span = (min(n_blocks * 16, available) if n_blocks else available) & ~15  # _span, inlined
    if span == 0:
        raise SecurityError(f"TPL mode 5: {len(payload)} payload bytes, no complete AES block", layer="TPL")
    encrypted = payload[:span]
    for key in (*keys, *defaults) if defaults else keys:
        if len(key) != 16:
            continue
        plain = ciphers.get(key).cbc_decrypt(iv, encrypted)
        if plain[:2] == CHECK:
            return plain + payload[span:]
    if not keys:
        raise KeyMissingError("TPL mode 5: payload encrypted and no key for this meter", layer="TPL")
    raise WrongKeyError("TPL mode 5: decrypted payload does not start with 2F2F — wrong key", layer="TPL")


def mode7(
    data: bytes,
    tpl_ci: int,
    payload_offset: int,
    n_blocks: int,
    afl: afl_layer.Afl | None,
    meter_id: bytes,
    keys: Sequence[bytes],
    ciphers: CipherCache,
) -> bytes:
    """Verify the AFL MAC and decrypt a mode-7 payload (KDF-A keys, zero IV)."""
    payload = data[payload_offset:]
    if not keys and payload[:2] == CHECK:
        return payload
    if afl is None or afl.mcr is None:
        raise SecurityError("TPL mode 7: no AFL message counter to derive keys from", layer="TPL")
    if not keys:
        raise KeyMissingError("TPL mode 7: payload encrypted and no key for this meter", layer="TPL")
    span = _span(n_blocks, len(payload))
    if span == 0:
        raise SecurityError("TPL mode 7: no complete AES block", layer="TPL")
    mac_failed = False
    for key in keys:
        if len(key) != 16:
            continue
        master = ciphers.get(key)
        if afl.mac is not None:
            kmac = master.cmac(b"\x01" + afl.mcr + meter_id + KDF_PAD)
            if not afl_layer.mac_ok(afl, kmac, data, tpl_ci):
                mac_failed = True
                continue
        kenc = master.cmac(b"\x00" + afl.mcr + meter_id + KDF_PAD)
        plain = crypto.aes_cbc_decrypt(kenc, crypto.ZERO_IV, payload[:span])
        if plain[:2] == CHECK:
            return plain + payload[span:]
    if mac_failed:
        raise WrongKeyError("AFL MAC mismatch — wrong key", layer=AflError.layer)
    raise WrongKeyError("TPL mode 7: decrypted payload does not start with 2F2F — wrong key", layer="TPL")


def des(payload: bytes, iv: bytes, n_bytes: int, keys: Sequence[bytes]) -> bytes:
    """Decrypt a mode 2/3 (DES-CBC) payload; CFG bits 7–4 count bytes here, 0 = everything."""
    if not keys and payload[:2] == CHECK:
        return payload
    if not keys:
        raise KeyMissingError("TPL DES mode: payload encrypted and no key for this meter", layer="TPL")
    span = (min(n_bytes or len(payload), len(payload)) // 8) * 8
    if span == 0:
        span = len(payload) // 8 * 8
    if span == 0:
        raise SecurityError("TPL DES mode: no complete DES block", layer="TPL")
    for key in keys:
        if len(key) < 8:
            continue
        plain = crypto.des_cbc_decrypt(key, iv, payload[:span])
        if plain[:2] == CHECK:
            return plain + payload[span:]
    raise WrongKeyError("TPL DES mode: decrypted payload does not start with 2F2F — wrong key", layer="TPL")
