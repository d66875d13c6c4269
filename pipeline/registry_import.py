"""``odczyt meters import FILE.csv``: meters, keys, service points, installations and legalization data.

Every line is validated first and every problem is reported with its line number; only a file without a
single error is written, in one transaction, so a file is never half-imported. The columns are documented in
docs/schema.md; only ``manufacturer`` and ``meter_id`` are required.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from core.errors import OdczytError
from core.ids import split_meter_key
from storage import audit, registry
from storage.errors import RegistryError, StorageError
from storage.legalization import valid_until

COLUMNS = (
    "manufacturer", "meter_id", "key_hex", "version", "device_type", "model", "driver", "q3_m3h", "read_mode",
    "legalization_mark_type", "legalization_mark_value", "legalized_on",
    "service_point_id", "address", "customer_ref", "lat", "lon", "area", "occupied",
    "installed_at", "removed_at", "initial_m3", "final_m3",
)
REQUIRED = ("manufacturer", "meter_id")


class CsvImportError(OdczytError):
    """The file has errors; ``errors`` lists them as ``"line N: column: problem"``. Nothing was written."""

    def __init__(self, path: Path, errors: list[str]) -> None:
        self.errors = errors
        if len(errors) == 1:
            super().__init__(f"{path}: {errors[0]}; nothing imported")
            return
        shown = "\n  ".join(errors[:50]) + (f"\n  … and {len(errors) - 50} more" if len(errors) > 50 else "")
        super().__init__(f"{path}: {len(errors)} error(s), nothing imported:\n  {shown}")


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import wrote."""

    lines: int
    meters: int
    keys_added: int
    service_points: int
    installations: int


@dataclass
class _Parsed:
    meters: dict[int, registry.Meter] = field(default_factory=dict)
    keys: dict[int, bytes] = field(default_factory=dict)
    points: dict[str, registry.ServicePoint] = field(default_factory=dict)
    installs: dict[tuple[str, datetime], registry.Installation] = field(default_factory=dict)
    key_lines: dict[int, int] = field(default_factory=dict)  # meter key → the line that gave its AES key
    install_lines: dict[tuple[str, datetime], int] = field(default_factory=dict)


class _Row:
    """One CSV line with typed accessors that record problems instead of raising."""

    def __init__(self, line: int, raw: dict[str, str | None], errors: list[str]) -> None:
        self.line, self.raw, self.errors = line, raw, errors

    def text(self, name: str) -> str | None:
        value = (self.raw.get(name) or "").strip()
        return value or None

    def bad(self, name: str, problem: str) -> None:
        self.errors.append(f"line {self.line}: {name}: {problem}")

    def convert(self, name: str, kind: type | str) -> object:
        value = self.text(name)
        if value is None:
            return None
        try:
            result = _CONVERTERS[kind](value)
        except (ValueError, TypeError) as exc:
            self.bad(name, f"{value!r} is not a valid {kind if isinstance(kind, str) else kind.__name__} ({exc})")
            return None
        if name in _BOUNDS and isinstance(result, float):
            low, high, low_ok = _BOUNDS[name]
            if not (low <= result if low_ok else low < result) or result > high:
                self.bad(name, f"{value!r} is out of range ({'[' if low_ok else '('}{low:g}, {high:g}])")
                return None
        return result


def _timestamp(value: str) -> datetime:
    ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if ts.tzinfo is None:
        raise ValueError("needs a time zone, e.g. 2026-01-31T12:00:00+01:00 or …Z")
    return ts.astimezone(UTC)


def _bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "t", "y", "tak"):
        return True
    if lowered in ("0", "false", "no", "f", "n", "nie"):
        return False
    raise ValueError("expected true/false")


def _int(value: str) -> int:
    return int(value, 16) if value.lower().startswith("0x") else int(value)


def _finite(value: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("not a finite number")
    return number


_CONVERTERS: dict[type | str, Callable[[str], object]] = {
    int: _int, float: _finite, date: date.fromisoformat, "timestamp": _timestamp, bool: _bool,
}
# what a plausible value is (1e308 is finite but no meter's reading): low, high, inclusive low
_BOUNDS = {"q3_m3h": (0.0, 10_000.0, False), "initial_m3": (0.0, 1e9, True), "final_m3": (0.0, 1e9, True),
           "lat": (-90.0, 90.0, True), "lon": (-180.0, 180.0, True)}


def _parse_meter(row: _Row) -> registry.Meter | None:
    man, mid = (row.text("manufacturer") or "").upper(), (row.text("meter_id") or "")
    if len(man) != 3 or not man.isalpha():
        row.bad("manufacturer", f"{man!r} is not a three-letter manufacturer code")
        return None
    if len(mid) != 8 or not all(c in "0123456789abcdefABCDEF" for c in mid):
        row.bad("meter_id", f"{mid!r} is not an 8-digit meter id")
        return None
    mark_type, mark_value = row.text("legalization_mark_type"), row.text("legalization_mark_value")
    if (mark_type is None) != (mark_value is None):
        row.bad("legalization_mark_value", "mark type and mark value go together")
    elif mark_type is not None and mark_value is not None:
        try:
            valid_until(mark_type, mark_value)
        except ValueError as exc:
            row.bad("legalization_mark_value", str(exc))
    read_mode = row.text("read_mode") or "fixed"
    if read_mode not in ("fixed", "driveby"):
        row.bad("read_mode", f"{read_mode!r} is not fixed or driveby")
    q3 = row.convert("q3_m3h", float)  # bounds: positive, at most 10,000 m³/h
    return registry.Meter(
        manufacturer=man, meter_id=mid.upper(), version=row.convert("version", int),  # type: ignore[arg-type]
        device_type=row.convert("device_type", int), model=row.text("model"),  # type: ignore[arg-type]
        driver=row.text("driver"), q3_m3h=q3, read_mode=read_mode,  # type: ignore[arg-type]
        legalization_mark_type=mark_type, legalization_mark_value=mark_value,
        legalized_on=row.convert("legalized_on", date))  # type: ignore[arg-type]


def _parse_key(row: _Row) -> bytes | None:
    key_hex = row.text("key_hex")
    if key_hex is None:
        return None
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        row.bad("key_hex", "not hexadecimal")
        return None
    if len(key) not in (16, 32):
        row.bad("key_hex", f"an AES key is 16 or 32 bytes, got {len(key)}")
        return None
    return key


def _parse_place(row: _Row, meter: registry.Meter, parsed: _Parsed) -> None:
    sp_id = row.text("service_point_id")
    if sp_id is None:
        for name in ("installed_at", "removed_at", "initial_m3", "final_m3"):
            if row.text(name) is not None:
                row.bad(name, "needs a service_point_id")
        return
    parsed.points[sp_id] = registry.ServicePoint(
        id=sp_id, address=row.text("address"), customer_ref=row.text("customer_ref"),
        lat=row.convert("lat", float), lon=row.convert("lon", float), area=row.text("area"),  # type: ignore[arg-type]
        occupied=True if row.text("occupied") is None else bool(row.convert("occupied", bool)))
    installed = row.convert("installed_at", "timestamp")
    if installed is None:
        if row.text("installed_at") is None:
            row.bad("installed_at", "a meter at a service point needs its installation time")
        return
    removed = row.convert("removed_at", "timestamp")
    if removed is not None and removed <= installed:  # type: ignore[operator]
        row.bad("removed_at", "must be after installed_at")
    if (sp_id, installed) in parsed.installs:
        row.bad("installed_at", f"service point {sp_id} already has an installation at {installed}")
    parsed.install_lines[(sp_id, installed)] = row.line  # type: ignore[index]
    parsed.installs[(sp_id, installed)] = registry.Installation(  # type: ignore[index]
        service_point_id=sp_id, meter_key=meter.meter_key, installed_at=installed,  # type: ignore[arg-type]
        removed_at=removed, initial_m3=row.convert("initial_m3", float) or 0.0,  # type: ignore[arg-type]
        final_m3=row.convert("final_m3", float))  # type: ignore[arg-type]


def parse_csv(path: Path) -> tuple[_Parsed, int]:
    """Validate the whole file; raise :class:`CsvImportError` with every problem found."""
    errors: list[str] = []
    parsed = _Parsed()
    lines = 0
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            unknown = set(reader.fieldnames or ()) - set(COLUMNS)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
            if unknown or missing:
                raise CsvImportError(path, [f"line 1: header: unknown columns {sorted(unknown)}, "
                                            f"missing {missing}; expected some of {list(COLUMNS)}"])
            for raw in reader:
                lines += 1
                row = _Row(reader.line_num, raw, errors)
                meter = _parse_meter(row)
                key = _parse_key(row)
                if meter is None:
                    continue
                parsed.meters[meter.meter_key] = meter
                if key is not None:
                    parsed.keys[meter.meter_key] = key
                    parsed.key_lines[meter.meter_key] = reader.line_num
                _parse_place(row, meter, parsed)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvImportError(path, [f"cannot read the file: {exc}"]) from exc
    if errors:
        raise CsvImportError(path, errors)
    return parsed, lines


def _label(meter_key: int) -> str:
    man, mid = split_meter_key(meter_key)
    return f"meter {man} {mid}"


def _foreign_key_errors(conn: psycopg.Connection, parsed: _Parsed, master_key: bytes) -> list[str]:
    """Refuse to seal keys under a master key other than the registry's (a worker could open only one set)."""
    elsewhere = registry.keys_sealed_elsewhere(conn, master_key=master_key)
    if not elsewhere:
        return []
    mine = registry.master_key_id(master_key)
    errors = [f"line {line}: key_hex: the stored keys of {_label(mk)} were sealed under another master key "
              f"(fingerprint {elsewhere[mk]}), not ODCZYT_MASTER_KEY (fingerprint {mine})"
              for mk, line in sorted(parsed.key_lines.items(), key=lambda kv: kv[1]) if mk in elsewhere]
    if not errors:
        first = min(parsed.key_lines.values())
        errors = [f"line {first}: key_hex: the registry's keys were sealed under another master key (fingerprint "
                  f"{next(iter(elsewhere.values()))}), not ODCZYT_MASTER_KEY (fingerprint {mine}): set that key"]
    return errors


def _overlap_errors(conn: psycopg.Connection, parsed: _Parsed) -> list[str]:
    """One meter at two service points at once, or two meters at one service point at once (after writing)."""
    errors = []
    pairs = registry.overlapping_installations(conn, meter_keys=parsed.meters.keys(), service_points=parsed.points)
    for a, b in pairs:
        keys = ((a.service_point_id, a.installed_at), (b.service_point_id, b.installed_at))
        if not any(k in parsed.install_lines for k in keys):
            continue  # an overlap the registry already had: not this file's doing
        where = [f"line {parsed.install_lines[k]}" if k in parsed.install_lines else "the registry" for k in keys]
        line = min(parsed.install_lines[k] for k in keys if k in parsed.install_lines)
        what = (f"{_label(a.meter_key)} is installed at {a.service_point_id} and {b.service_point_id} at once"
                if a.meter_key == b.meter_key else
                f"{_label(a.meter_key)} and {_label(b.meter_key)} are both installed at {a.service_point_id}")
        errors.append(f"line {line}: installed_at: {what} (installations of {where[0]} from "
                      f"{a.installed_at:%Y-%m-%d %H:%M} and {where[1]} from {b.installed_at:%Y-%m-%d %H:%M} overlap)")
    return errors


def _write(conn: psycopg.Connection, parsed: _Parsed, master_key: bytes | None, path: Path) -> int:
    if parsed.keys and master_key is not None and (errors := _foreign_key_errors(conn, parsed, master_key)):
        raise CsvImportError(path, errors)
    registry.upsert_meters(conn, meters=parsed.meters.values())
    added = 0
    for mk, key in parsed.keys.items():
        try:
            added += registry.add_key(conn, meter_key=mk, aes_key=key, master_key=master_key)  # type: ignore[arg-type]
        except RegistryError as exc:
            raise CsvImportError(path, [f"line {parsed.key_lines[mk]}: key_hex: {exc}"]) from exc
    registry.upsert_service_points(conn, points=parsed.points.values())
    registry.upsert_installations(conn, installations=parsed.installs.values())
    if errors := _overlap_errors(conn, parsed):
        raise CsvImportError(path, errors)
    if parsed.keys and master_key is not None:  # every key of these meters opens under the current master key
        bad = registry.unopenable_keys(conn, master_key=master_key, meter_keys=parsed.keys)
        if bad:
            raise CsvImportError(path, [f"line {parsed.key_lines[mk]}: key_hex: a stored key of {_label(mk)} "
                                        "does not open with ODCZYT_MASTER_KEY" for mk in bad])
    return added


def import_meters_csv(db_url: str, path: Path, *, master_key: bytes | None, actor: str | None = None) -> ImportReport:
    """Validate ``path`` and write it in one transaction; raise :class:`CsvImportError` / ``StorageError``.

    Beyond the file's own checks, nothing is written when a key would be sealed under a master key other than
    the registry's, when a stored key of the file's meters does not open, or when installations overlap (one
    meter at two service points at once, two meters at one service point at once, in the file or with the
    registry); each problem names its line. With ``actor`` the import is one ``registry.import`` audit row
    (counts and meter ids, never keys) in the same transaction.
    """
    parsed, lines = parse_csv(Path(path))
    if parsed.keys and master_key is None:
        raise CsvImportError(Path(path), ["the file has keys but no master key is configured "
                                          "(ODCZYT_MASTER_KEY, 64 hex digits)"])
    try:
        with psycopg.connect(db_url) as conn, conn.transaction():
            added = _write(conn, parsed, master_key, Path(path))
            if actor is not None:
                audit.record(conn, actor=actor, action="registry.import", subject=f"file:{Path(path).name}",
                             after={"lines": lines, "meters": sorted(f"{m.manufacturer} {m.meter_id}"
                                                                     for m in parsed.meters.values())[:1000],
                                    "keys_added": added, "service_points": len(parsed.points),
                                    "installations": len(parsed.installs)})
    except psycopg.Error as exc:
        raise StorageError(f"{path}: import rolled back: {exc}") from exc
    return ImportReport(lines, len(parsed.meters), added, len(parsed.points), len(parsed.installs))
