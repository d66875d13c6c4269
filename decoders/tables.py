"""Protocol tables as data, each citing its source (see /work/shared/docs/wmbus-factsheet.md).

One lookup function per table; unknown codes never raise.
"""

from __future__ import annotations

# EN 13757-4 device type / medium (A-field byte 5, TPL long header) — fact sheet §1.7,
# wmbusmeters ``mediaType()``; 0x10–0x14, 0x1E from FHEM ``%validDeviceTypes``.
DEVICE_TYPES: dict[int, str] = {
    0x00: "other",
    0x01: "oil",
    0x02: "electricity",
    0x03: "gas",
    0x04: "heat",
    0x05: "steam",
    0x06: "warm water",
    0x07: "water",
    0x08: "heat cost allocator",
    0x09: "compressed air",
    0x0A: "cooling load (return)",
    0x0B: "cooling load (flow)",
    0x0C: "heat (flow)",
    0x0D: "heat/cooling",
    0x0E: "bus/system component",
    0x0F: "unknown",
    0x14: "calorific value",
    0x15: "hot water",
    0x16: "cold water",
    0x17: "dual water",
    0x18: "pressure",
    0x19: "a/d converter",
    0x1A: "smoke detector",
    0x1B: "room sensor",
    0x1C: "gas detector",
    0x20: "breaker",
    0x21: "valve",
    0x25: "customer unit",
    0x28: "waste water",
    0x29: "garbage",
    0x31: "communication controller",
    0x32: "unidirectional repeater",
    0x33: "bidirectional repeater",
    0x36: "radio converter (system side)",
    0x37: "radio converter (meter side)",
}

# Techem manufacturer-specific device types (fact sheet §1.7, wmbusmeters ``mediaType()``).
TECHEM_DEVICE_TYPES: dict[int, str] = {
    0x62: "warm water",
    0x72: "cold water",
    0x80: "heat cost allocator",
    0x43: "heat",
    0xC3: "heat",
    0xF0: "smoke detector",
}

WATER_DEVICE_TYPES = frozenset({0x06, 0x07, 0x15, 0x16, 0x17, 0x28})


# Every byte value's name, expanded once (the decoder asks for one per telegram).
MEDIUM_NAMES = tuple(DEVICE_TYPES.get(t, f"reserved 0x{t:02x}") for t in range(256))


def medium_name(device_type: int, manufacturer: str = "") -> str:
    """Human name of a device-type byte (Techem codes only for manufacturer TCH)."""
    if manufacturer == "TCH" and device_type in TECHEM_DEVICE_TYPES:
        return TECHEM_DEVICE_TYPES[device_type]
    if 0 <= device_type < 256:
        return MEDIUM_NAMES[device_type]
    return DEVICE_TYPES.get(device_type, f"reserved 0x{device_type:02x}")


# C-field values (fact sheet §1.5; AllWize ``OMS.h``).
C_FIELDS: dict[int, str] = {
    0x44: "SND_NR",
    0x46: "SND_IR",
    0x47: "ACC_NR",
    0x48: "ACC_DMD",
    0x08: "RSP_UD",
    0x00: "ACK",
    0x01: "NACK",
    0x40: "SND_NKE",
    0x43: "SND_UD2",
    0x53: "SND_UD",
    0x73: "SND_UD",
    0x5A: "REQ_UD1",
    0x7A: "REQ_UD1",
    0x5B: "REQ_UD2",
    0x7B: "REQ_UD2",
    0x06: "CNF_IR",
}

# CI-field kinds (fact sheet §1.8; wmbusmeters ``ciType()``/``LIST_OF_CI_FIELDS``).
# value: (kind, TPL header: "none" | "short" | "long")
CI_FIELDS: dict[int, tuple[str, str]] = {
    0x66: ("response", "none"),
    0x67: ("response", "short"),
    0x68: ("response", "long"),
    0x69: ("apl_format", "none"),
    0x6A: ("apl_format", "short"),
    0x6B: ("apl_format", "long"),
    0x6E: ("apl_error", "short"),
    0x6F: ("apl_error", "long"),
    0x70: ("apl_error", "none"),
    0x72: ("apl", "long"),
    0x73: ("compact", "long"),
    0x74: ("alarm", "short"),
    0x75: ("alarm", "long"),
    0x78: ("apl", "none"),
    0x79: ("compact", "none"),
    0x7A: ("apl", "short"),
    0x7B: ("compact", "short"),
    0x8A: ("tpl_only", "short"),
    0x8B: ("tpl_only", "long"),
}

ELL_CIS = frozenset({0x8C, 0x8D, 0x8E, 0x8F, 0x86})
AFL_CI = 0x90
MANUFACTURER_CIS = frozenset(range(0xA0, 0xB8)) | {0x71}


def ci_kind(ci: int) -> tuple[str, str] | None:
    """``(kind, header)`` for a TPL CI field, or None when the CI does not start a TPL."""
    return CI_FIELDS.get(ci)


# TPL security modes (fact sheet §2.3; wmbusmeters ``LIST_OF_TPL_SECURITY_MODES``).
SECURITY_MODES: dict[int, str] = {
    0: "none",
    1: "manufacturer specific",
    2: "DES, no IV",
    3: "DES with IV",
    4: "specific",
    5: "AES-128-CBC with IV",
    7: "AES-128-CBC, IV 0, ephemeral keys",
    8: "AES-CTR + CMAC",
    9: "AES-GCM",
    10: "AES-CCM",
    13: "TLS",
    15: "specific",
}


def security_mode_name(mode: int) -> str:
    """Name of a TPL security mode number."""
    return SECURITY_MODES.get(mode, "reserved")
