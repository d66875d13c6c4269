"""``odczyt meters import-wmbusmeters DIR``: a wmbusmeters ``wmbusmeters.d/`` folder into the meter registry.

Each file of the folder describes one meter with ``key=value`` lines (``name=``, ``driver=``, ``id=``, ``key=``;
``#`` comments; other keys such as ``shell=`` are ignored). wmbusmeters does not store the manufacturer: it
follows from the driver (``iperl`` → SEN, ``apator162`` → APA, ``multical21`` → KAM …, our drivers' detection
keys plus a table of wmbusmeters' own driver names); for drivers several manufacturers share (``izar``,
``hydrus``, ``auto`` …) the file may carry ``manufacturer=XXX`` or the command's ``--manufacturer`` applies.

The folder becomes the rows of the registry's CSV import (``pipeline.registry_import``), so the same checks
apply: keys sealed with the master key, all or nothing, one audit row. Every problem names its file.
Refused: wildcard or several ids (``id=1234*``, ``id=a,b`` — a registry meter is one meter), ids that are not
8 digits, keys that are not 32 hex digits (``NOKEY`` or empty means no key). ``name=`` is reported, not
stored (the registry has no name column).
"""

from __future__ import annotations

import csv
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserError
from pipeline.registry_import import CsvImportError, ImportReport, import_meters_csv

# wmbusmeters driver names whose manufacturer our drivers' names do not give (facts: the meters' M-fields)
WMBUSMETERS_DRIVERS = {
    "multical21": "KAM", "flowiq2200": "KAM", "flowiq3100": "KAM", "flowiq2101": "KAM", "multical302": "KAM",
    "multical403": "KAM", "multical603": "KAM", "mkradio3": "TCH", "mkradio4": "TCH", "mkradio4a": "TCH",
    "topaswater": "AMT", "q400": "AXI",
    "ultrimis": "APA", "apator08": "APT", "apator162": "APA", "apatorna1": "APA", "iperl": "SEN",
    "supercom587": "SON", "hydrodigit": "BMT", "iwmtx5": "BMT", "rfmtx1": "BMT", "gwfwater": "GWF",
    "aquastream": "IMT", "istawater": "IST", "qwater": "QDS", "waterstarm": "DWZ", "minomess": "ZRI",
}
_ID = re.compile(r"^[0-9A-Fa-f]{8}$")
_KEY = re.compile(r"^[0-9A-Fa-f]{32}$")


@dataclass(frozen=True, slots=True)
class WmbusmetersMeter:
    """One meter file of the folder."""

    file: str
    name: str | None
    driver: str | None
    meter_id: str
    key_hex: str | None
    manufacturer: str


def _known_manufacturers() -> dict[str, str]:
    from decoders.drivers import ALL_DRIVERS

    out = dict(WMBUSMETERS_DRIVERS)
    for d in ALL_DRIVERS:
        makers = {m.manufacturer for m in d.matches}
        if len(makers) == 1:
            out.setdefault(d.name, makers.pop())
    return out


def read_file(path: Path) -> dict[str, str]:
    """The ``key=value`` lines of one wmbusmeters meter file (last one wins, keys lower-cased)."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        text = line.strip()
        if not text or text.startswith("#") or "=" not in text:
            continue
        name, value = text.split("=", 1)
        values[name.strip().lower()] = value.strip()
    return values


def _meter(path: Path, values: dict[str, str], default_manufacturer: str | None,
           makers: dict[str, str]) -> tuple[WmbusmetersMeter | None, list[str]]:
    problems: list[str] = []
    meter_id, key, driver = values.get("id", ""), values.get("key", ""), values.get("driver")
    if not _ID.match(meter_id):
        problems.append(f"id={meter_id!r}: give one meter's 8-digit id (wildcards and lists are not imported)")
    if key.upper() in ("", "NOKEY"):
        key_hex = None
    elif _KEY.match(key):
        key_hex = key.lower()
    else:
        key_hex = None
        problems.append("key=…: not 32 hex digits (an AES-128 key) nor NOKEY")
    manufacturer = (values.get("manufacturer") or makers.get((driver or "").lower()) or default_manufacturer or "")
    if not re.fullmatch(r"[A-Za-z]{3}", manufacturer):
        problems.append(f"driver={driver!r} does not name the manufacturer: add manufacturer=XXX to the file "
                        "or give --manufacturer")
    if problems:
        return None, [f"{path.name}: {p}" for p in problems]
    return WmbusmetersMeter(path.name, values.get("name"), driver, meter_id.upper(), key_hex,
                            manufacturer.upper()), []


def read_folder(folder: Path, default_manufacturer: str | None = None) -> list[WmbusmetersMeter]:
    """Every meter file of ``folder`` (sorted by name); raises :class:`UserError` naming every problem."""
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder: give the wmbusmeters.d directory (one file per meter)")
    if default_manufacturer is not None and not re.fullmatch(r"[A-Za-z]{3}", default_manufacturer):
        raise UserError(f"--manufacturer {default_manufacturer!r} is not a three-letter code (e.g. DME, KAM)")
    makers = _known_manufacturers()
    meters, problems = [], []
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    for path in files:
        meter, errors = _meter(path, read_file(path), default_manufacturer, makers)
        problems += errors
        if meter is not None:
            meters.append(meter)
    if not files:
        problems.append("no meter files in the folder")
    if problems:
        raise UserError(f"{folder}: {len(problems)} problem(s), nothing imported: " + "; ".join(problems[:20]))
    return meters


def _rows(meters: Iterable[WmbusmetersMeter]) -> list[dict[str, str]]:
    return [{"manufacturer": m.manufacturer, "meter_id": m.meter_id, "key_hex": m.key_hex or "",
             "driver": m.driver or ""} for m in meters]


def import_folder(db_url: str, folder: Path, *, master_key: bytes | None, actor: str | None = None,
                  default_manufacturer: str | None = None) -> tuple[list[WmbusmetersMeter], ImportReport]:
    """Read ``folder`` and import it through the registry's CSV import (its checks, one transaction)."""
    meters = read_folder(folder, default_manufacturer)
    with tempfile.TemporaryDirectory(prefix="odczyt-wmbusmeters-") as tmp:
        path = Path(tmp) / f"{folder.name or 'wmbusmeters.d'}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, fieldnames=["manufacturer", "meter_id", "key_hex", "driver"])
            writer.writeheader()
            writer.writerows(_rows(meters))
        try:
            report = import_meters_csv(db_url, path, master_key=master_key, actor=actor)
        except CsvImportError as exc:  # "line N" of the generated CSV → the meter's file
            raise UserError(f"{folder}: nothing imported: " + "; ".join(_by_file(exc.errors, meters))) from exc
    return meters, report


def _by_file(errors: list[str], meters: list[WmbusmetersMeter]) -> list[str]:
    out = []
    for error in errors[:20]:
        found = re.match(r"line (\d+)", error)
        index = int(found.group(1)) - 2 if found else -1
        out.append(f"{meters[index].file}: {error[found.end():].lstrip(': ')}" if found and 0 <= index < len(meters)
                   else error)
    return out
