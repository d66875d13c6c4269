"""Key lookup: how the decoder asks for AES keys, plus the publicly documented default keys.

A :data:`KeyLookup` is any callable ``(manufacturer, meter_id) -> Sequence[bytes]`` returning zero or more
candidate keys; the decoder tries each (key rotation keeps old keys valid for a while).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

KeyLookup = Callable[[str, str], Sequence[bytes]]

# Diehl default OMS key (mode 5) tried when no key is configured — fact sheet §4.3,
# wmbusmeters ``addDefaultManufacturerKeyIfAny``.
DIEHL_DEFAULT_OMS_KEY = bytes.fromhex("51728910E66D83F851728910E66D83F8")
DIEHL_MANUFACTURERS = frozenset({"DME", "HYD", "SAP"})

# Diehl PRIOS LFSR default keys (8 bytes), tried in this order — fact sheet §4.3, wmbusmeters driver_izar.cc.
PRIOS_DEFAULT_KEYS = (bytes.fromhex("39BC8A10E66D83F8"), bytes.fromhex("51728910E66D83F8"))


def static_keys(mapping: Mapping[str, bytes | str | Sequence[bytes | str]]) -> KeyLookup:
    """A :data:`KeyLookup` over a fixed mapping.

    Keys of ``mapping`` are ``"MFC:12345678"`` or just ``"12345678"`` (any manufacturer); values are a key
    (bytes or hex) or a sequence of them.
    """
    table: dict[str, tuple[bytes, ...]] = {}
    for name, value in mapping.items():
        items = [value] if isinstance(value, bytes | str) else list(value)
        table[name.upper()] = tuple(bytes.fromhex(v) if isinstance(v, str) else bytes(v) for v in items)

    def lookup(manufacturer: str, meter_id: str) -> Sequence[bytes]:
        meter = meter_id.upper()
        return table.get(f"{manufacturer.upper()}:{meter}", ()) + table.get(meter, ())

    return lookup


def default_oms_keys(manufacturer: str) -> tuple[bytes, ...]:
    """Publicly documented default OMS keys for a manufacturer (only Diehl has one)."""
    return (DIEHL_DEFAULT_OMS_KEY,) if manufacturer in DIEHL_MANUFACTURERS else ()
