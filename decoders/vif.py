"""VIF / VIFE tables (EN 13757-3) as data, expanded once into immutable lookup tuples.

Each row: ``(first code, last code, quantity, unit, exponent bias, kind)``; the value's scale is
``10 ** ((code & mask) + bias)`` where the mask comes from the range width. ``kind`` tells the record loop how
to interpret the data: ``num`` (scaled number), ``date``, ``datetime``, ``flags`` (unsigned bit field),
``ident`` (identity digits kept as a string), ``count`` (plain integer), ``raw``.

Sources: fact sheet §3.2 (primary VIF — wmbusmeters ``vifType``/``LIST_OF_VIF_RANGES``, FHEM ``%VIFInfo``,
libmbus), §3.3 (0xFD table — scambus EN 13757-3:2013 transcription, libmbus ``mbus_vib_unit_lookup_fd``,
[LVP] ``fdVifs.ts``), §3.4 (0xFB table), §3.5 (combinable VIFEs).
"""

from __future__ import annotations

from typing import NamedTuple


class VifInfo(NamedTuple):
    """What a VIF code means: quantity, unit, decimal exponent and interpretation kind."""

    quantity: str
    unit: str
    exponent: int
    kind: str


_Row = tuple[int, int, str, str, int, str]

# Primary VIF (E bit cleared). Units are normalised: volume m3, flow m3/h, energy kWh, mass kg.
PRIMARY_ROWS: tuple[_Row, ...] = (
    (0x00, 0x07, "energy", "kWh", -6, "num"),
    (0x08, 0x0F, "energy", "J", -8, "num"),  # 10^n J -> bias -8 on code 8..15
    (0x10, 0x17, "volume", "m3", -0x16, "num"),  # 10^(n-6) m3, n = code & 7
    (0x18, 0x1F, "mass", "kg", -0x1B, "num"),
    (0x20, 0x20, "on_time", "s", -0x20, "count"),
    (0x21, 0x21, "on_time", "min", -0x21, "count"),
    (0x22, 0x22, "on_time", "h", -0x22, "count"),
    (0x23, 0x23, "on_time", "d", -0x23, "count"),
    (0x24, 0x24, "operating_time", "s", -0x24, "count"),
    (0x25, 0x25, "operating_time", "min", -0x25, "count"),
    (0x26, 0x26, "operating_time", "h", -0x26, "count"),
    (0x27, 0x27, "operating_time", "d", -0x27, "count"),
    (0x28, 0x2F, "power", "W", -0x2B, "num"),
    (0x30, 0x37, "power", "J/h", -0x30, "num"),
    (0x38, 0x3F, "flow", "m3/h", -0x3E, "num"),
    (0x40, 0x47, "flow", "m3/min", -0x47, "num"),
    (0x48, 0x4F, "flow", "m3/s", -0x51, "num"),
    (0x50, 0x57, "mass_flow", "kg/h", -0x53, "num"),
    (0x58, 0x5B, "flow_temperature", "C", -0x5B, "num"),
    (0x5C, 0x5F, "return_temperature", "C", -0x5F, "num"),
    (0x60, 0x63, "temperature_difference", "K", -0x63, "num"),
    (0x64, 0x67, "external_temperature", "C", -0x67, "num"),
    (0x68, 0x6B, "pressure", "bar", -0x6B, "num"),
    (0x6C, 0x6C, "date", "", 0, "date"),
    (0x6D, 0x6D, "datetime", "", 0, "datetime"),
    (0x6E, 0x6E, "hca_units", "", -0x6E, "num"),
    (0x6F, 0x6F, "reserved", "", 0, "raw"),
    (0x70, 0x70, "averaging_duration", "s", -0x70, "count"),
    (0x71, 0x71, "averaging_duration", "min", -0x71, "count"),
    (0x72, 0x72, "averaging_duration", "h", -0x72, "count"),
    (0x73, 0x73, "averaging_duration", "d", -0x73, "count"),
    (0x74, 0x74, "actuality_duration", "s", -0x74, "count"),
    (0x75, 0x75, "actuality_duration", "min", -0x75, "count"),
    (0x76, 0x76, "actuality_duration", "h", -0x76, "count"),
    (0x77, 0x77, "actuality_duration", "d", -0x77, "count"),
    (0x78, 0x78, "fabrication_number", "", -0x78, "ident"),
    (0x79, 0x79, "enhanced_identification", "", -0x79, "ident"),
    (0x7A, 0x7A, "bus_address", "", -0x7A, "count"),
    (0x7E, 0x7E, "any", "", 0, "raw"),
    (0x7F, 0x7F, "manufacturer_specific", "", 0, "raw"),
)

# Second extension table, VIFE after 0xFD (E bit cleared) — fact sheet §3.3.
FD_ROWS: tuple[_Row, ...] = (
    (0x00, 0x03, "credit", "currency", -0x03, "num"),
    (0x04, 0x07, "debit", "currency", -0x07, "num"),
    (0x08, 0x08, "access_number", "", -0x08, "count"),
    (0x09, 0x09, "medium", "", -0x09, "count"),
    (0x0A, 0x0A, "manufacturer", "", -0x0A, "count"),
    (0x0B, 0x0B, "parameter_set", "", -0x0B, "ident"),
    (0x0C, 0x0C, "model_version", "", -0x0C, "ident"),
    (0x0D, 0x0D, "hardware_version", "", -0x0D, "ident"),
    (0x0E, 0x0E, "firmware_version", "", -0x0E, "ident"),
    (0x0F, 0x0F, "software_version", "", -0x0F, "ident"),
    (0x10, 0x10, "customer_location", "", -0x10, "ident"),
    (0x11, 0x11, "customer", "", -0x11, "ident"),
    (0x12, 0x16, "access_code", "", 0, "raw"),
    (0x17, 0x17, "error_flags", "", -0x17, "flags"),
    (0x18, 0x18, "error_mask", "", -0x18, "flags"),
    (0x1A, 0x1A, "digital_output", "", -0x1A, "flags"),
    (0x1B, 0x1B, "digital_input", "", -0x1B, "flags"),
    (0x1C, 0x1C, "baud_rate", "", -0x1C, "count"),
    (0x1D, 0x1D, "response_delay", "", -0x1D, "count"),
    (0x1E, 0x1E, "retry", "", -0x1E, "count"),
    (0x1F, 0x1F, "remote_control", "", -0x1F, "flags"),
    (0x20, 0x22, "storage_management", "", 0, "count"),
    (0x24, 0x27, "storage_interval", "", 0, "count"),
    (0x28, 0x29, "storage_interval", "", 0, "count"),
    (0x2A, 0x2A, "operator_data", "", 0, "raw"),
    (0x2B, 0x2B, "time_point_second", "s", -0x2B, "count"),
    (0x2C, 0x2F, "duration_since_readout", "", 0, "count"),
    (0x30, 0x30, "tariff_start", "", 0, "datetime"),
    (0x31, 0x39, "tariff_duration", "", 0, "count"),
    (0x3A, 0x3A, "dimensionless", "", -0x3A, "num"),
    (0x3B, 0x3B, "wmbus_container", "", 0, "raw"),
    (0x3C, 0x3F, "transmission_period", "", 0, "count"),
    (0x40, 0x4F, "voltage", "V", -0x49, "num"),
    (0x50, 0x5F, "current", "A", -0x5C, "num"),
    (0x60, 0x60, "reset_counter", "", -0x60, "count"),
    (0x61, 0x61, "cumulation_counter", "", -0x61, "count"),
    (0x62, 0x62, "control_signal", "", -0x62, "flags"),
    (0x63, 0x65, "calendar", "", 0, "count"),
    (0x66, 0x67, "parameter_state", "", 0, "flags"),
    (0x68, 0x6B, "duration_since_cumulation", "", 0, "count"),
    (0x6C, 0x6C, "battery_operating_time", "h", -0x6C, "count"),
    (0x6D, 0x6D, "battery_operating_time", "d", -0x6D, "count"),
    (0x6E, 0x6E, "battery_operating_time", "month", -0x6E, "count"),
    (0x6F, 0x6F, "battery_operating_time", "year", -0x6F, "count"),
    (0x70, 0x70, "battery_change_date", "", 0, "datetime"),
    (0x71, 0x71, "rf_level", "dBm", -0x71, "num"),
    (0x72, 0x73, "clock_management", "", 0, "raw"),
    (0x74, 0x74, "remaining_battery", "d", -0x74, "count"),
    (0x75, 0x75, "stop_counter", "", -0x75, "count"),
    (0x76, 0x76, "manufacturer_container", "", 0, "raw"),
)

# First extension table, VIFE after 0xFB (E bit cleared) — fact sheet §3.4 (entries useful here).
FB_ROWS: tuple[_Row, ...] = (
    (0x00, 0x01, "energy", "kWh", 2, "num"),  # 0.1 / 1 MWh
    (0x08, 0x09, "energy", "J", 0, "num"),  # 0.1 / 1 GJ -> 10^8 / 10^9 J
    (0x10, 0x11, "volume", "m3", 2 - 0x10, "num"),  # 100 / 1000 m3
    (0x18, 0x19, "mass", "kg", 5 - 0x18, "num"),  # 100 / 1000 t
    (0x1A, 0x1B, "relative_humidity", "%", -1 - 0x1A, "num"),
    (0x28, 0x29, "power", "W", 5 - 0x28, "num"),  # 0.1 / 1 MW
    (0x2C, 0x2F, "frequency", "Hz", -3 - 0x2C, "num"),
    (0x74, 0x77, "temperature_limit", "C", -3 - 0x74, "num"),
)

# Combinable (orthogonal) VIFEs that change what a value means — fact sheet §3.5.
COMBINABLE_QUANTITY: dict[int, str] = {
    0x3A: "uncorrected",
    0x3B: "forward",
    0x3C: "backward",
    0x3E: "base_conditions",
    0x69: "leakage",
    0x6D: "overflow",
    0x7E: "future",
}


def _expand(rows: tuple[_Row, ...]) -> tuple[VifInfo | None, ...]:
    table: list[VifInfo | None] = [None] * 128
    for first, last, quantity, unit, bias, kind in rows:
        for code in range(first, last + 1):
            exponent = code + bias if kind == "num" else 0
            table[code] = VifInfo(quantity, unit, exponent, kind)
    return tuple(table)


PRIMARY = _expand(PRIMARY_ROWS)
FD = _expand(FD_ROWS)
FB = _expand(FB_ROWS)

UNKNOWN = VifInfo("unknown", "", 0, "raw")


def combinable_exponent(vife: int) -> int | None:
    """Exponent added by a multiplicative-correction VIFE (0x70–0x77: 10^(n-6); 0x7D: 10^3), else None."""
    code = vife & 0x7F
    if 0x70 <= code <= 0x77:
        return (code & 7) - 6
    if code == 0x7D:
        return 3
    return None
