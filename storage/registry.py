"""The meter registry: meters, their AES keys sealed with the master key, service points, installations.

Meter keys are stored as ``nonce(12) || AES-256-GCM(master_key, key, aad=meter_key)``: a sealed key copied to
another meter's row fails to open. Rotation adds a key and retires (never deletes) the previous ones, so
frames sent before the rotation can still be decoded by ``odczyt redecode``; the newest key is tried first.
Every function is keyword-only and runs inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import psycopg
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.ids import meter_key as make_meter_key
from core.ids import split_meter_key
from storage.errors import RegistryError
from storage.legalization import valid_until


@dataclass(frozen=True, slots=True)
class Meter:
    """One registered meter (a ``meters`` row)."""

    manufacturer: str
    meter_id: str
    version: int | None = None
    device_type: int | None = None
    model: str | None = None
    driver: str | None = None
    q3_m3h: float | None = None
    read_mode: str = "fixed"
    legalization_mark_type: str | None = None
    legalization_mark_value: str | None = None
    legalized_on: date | None = None

    @property
    def meter_key(self) -> int:
        return make_meter_key(self.manufacturer, self.meter_id)

    @property
    def legal_valid_until(self) -> date | None:
        if self.legalization_mark_type is None or self.legalization_mark_value is None:
            return None
        return valid_until(self.legalization_mark_type, self.legalization_mark_value)


@dataclass(frozen=True, slots=True)
class ServicePoint:
    """A place water is delivered to (``service_points`` row)."""

    id: str
    address: str | None = None
    customer_ref: str | None = None
    lat: float | None = None
    lon: float | None = None
    area: str | None = None
    occupied: bool = True


@dataclass(frozen=True, slots=True)
class Installation:
    """A meter installed at a service point from ``installed_at`` until ``removed_at``."""

    service_point_id: str
    meter_key: int
    installed_at: datetime
    removed_at: datetime | None = None
    initial_m3: float = 0.0
    final_m3: float | None = None


def master_key_id(master_key: bytes) -> str:
    """A short fingerprint of a master key (stored next to every key it sealed)."""
    return hashlib.sha256(b"odczyt-master-key" + master_key).hexdigest()[:16]


def _check_master(master_key: bytes) -> AESGCM:
    if len(master_key) != 32:
        raise RegistryError(f"master key must be 32 bytes (AES-256), got {len(master_key)}")
    return AESGCM(master_key)


def seal_secret(master_key: bytes, *, context: bytes, secret: bytes) -> bytes:
    """Encrypt any secret for storage: ``nonce(12) || AES-256-GCM(master_key, secret, aad=context)``; the
    ``context`` (the row it belongs to) makes a sealed value copied to another row fail to open."""
    nonce = os.urandom(12)
    return nonce + _check_master(master_key).encrypt(nonce, secret, context)


def open_secret(master_key: bytes, *, context: bytes, sealed: bytes, what: str) -> bytes:
    """Decrypt a value sealed by :func:`seal_secret`; :class:`RegistryError` naming ``what`` when the master key
    is wrong or the row was tampered with."""
    try:
        return _check_master(master_key).decrypt(sealed[:12], sealed[12:], context)
    except InvalidTag as exc:
        raise RegistryError(f"{what} does not open with this master key") from exc


def seal_key(master_key: bytes, meter_key: int, aes_key: bytes) -> bytes:
    """Encrypt a meter's AES key for storage."""
    if len(aes_key) not in (16, 32):
        raise RegistryError(f"meter key must be 16 or 32 bytes, got {len(aes_key)}")
    return seal_secret(master_key, context=meter_key.to_bytes(8, "big"), secret=aes_key)


def open_key(master_key: bytes, meter_key: int, sealed: bytes) -> bytes:
    """Decrypt a stored key; :class:`RegistryError` when the master key is wrong or the row was tampered."""
    man, mid = split_meter_key(meter_key)
    return open_secret(master_key, context=meter_key.to_bytes(8, "big"), sealed=bytes(sealed),
                       what=f"key of meter {man} {mid}")


def check_master_key(conn: psycopg.Connection, *, master_key: bytes | None) -> int:
    """Refuse a master key that cannot open the registry's sealed keys; return how many keys are sealed.

    :class:`RegistryError` when keys are sealed but ``master_key`` is None (every frame would be stored as
    "key missing"), or when ``master_key``'s fingerprint is not the ``master_key_id`` the keys were sealed
    under (every key would fail to open).
    """
    rows = conn.execute("SELECT master_key_id, count(*) FROM meter_keys GROUP BY master_key_id "
                        "ORDER BY count(*) DESC").fetchall()
    sealed = sum(int(n) for _, n in rows)
    if not sealed:
        return 0
    if master_key is None:
        raise RegistryError(f"the registry holds {sealed} sealed meter key(s) but ODCZYT_MASTER_KEY is not set: "
                            "set it (frames would all be stored as 'key missing')")
    mine = master_key_id(master_key)
    foreign = {str(kid): int(n) for kid, n in rows if kid != mine}
    if foreign:
        kid, n = next(iter(foreign.items()))
        raise RegistryError(f"ODCZYT_MASTER_KEY (fingerprint {mine}) is not the master key that sealed "
                            f"{sum(foreign.values())} of the registry's {sealed} meter key(s) (fingerprint {kid}: "
                            f"{n}): set the right key, or rotate with 'odczyt keys rewrap'")
    return sealed


_UPSERT_METER = """
INSERT INTO meters (meter_key, manufacturer, meter_id, version, device_type, model, driver, q3_m3h, read_mode,
                    legalization_mark_type, legalization_mark_value, legalized_on, legal_valid_until)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (meter_key) DO UPDATE SET
    version = coalesce(EXCLUDED.version, meters.version),
    device_type = coalesce(EXCLUDED.device_type, meters.device_type),
    model = coalesce(EXCLUDED.model, meters.model), driver = coalesce(EXCLUDED.driver, meters.driver),
    q3_m3h = coalesce(EXCLUDED.q3_m3h, meters.q3_m3h), read_mode = EXCLUDED.read_mode,
    legalization_mark_type = coalesce(EXCLUDED.legalization_mark_type, meters.legalization_mark_type),
    legalization_mark_value = coalesce(EXCLUDED.legalization_mark_value, meters.legalization_mark_value),
    legalized_on = coalesce(EXCLUDED.legalized_on, meters.legalized_on),
    legal_valid_until = coalesce(EXCLUDED.legal_valid_until, meters.legal_valid_until),
    updated_at = now()
"""


def upsert_meters(conn: psycopg.Connection, *, meters: Iterable[Meter]) -> int:
    """Insert or update meters (blank fields keep the stored value); return how many were written."""
    rows = [(m.meter_key, m.manufacturer, m.meter_id, m.version, m.device_type, m.model, m.driver, m.q3_m3h,
             m.read_mode, m.legalization_mark_type, m.legalization_mark_value, m.legalized_on,
             m.legal_valid_until) for m in meters]
    with conn.cursor() as cur:
        cur.executemany(_UPSERT_METER, rows)
    return len(rows)


def add_key(conn: psycopg.Connection, *, meter_key: int, aes_key: bytes, master_key: bytes) -> bool:
    """Make ``aes_key`` the meter's current key, retiring the previous one; False if it already is current."""
    rows = conn.execute("SELECT key_no, key_enc, retired_at FROM meter_keys WHERE meter_key = %s "
                        "ORDER BY key_no DESC", (meter_key,)).fetchall()
    for key_no, sealed, retired_at in rows:
        if open_key(master_key, meter_key, sealed) == aes_key:
            if retired_at is None:
                return False
            conn.execute("UPDATE meter_keys SET retired_at = NULL WHERE meter_key = %s AND key_no = %s",
                         (meter_key, key_no))
            conn.execute("UPDATE meter_keys SET retired_at = now() WHERE meter_key = %s AND key_no <> %s "
                         "AND retired_at IS NULL", (meter_key, key_no))
            return True
    conn.execute("UPDATE meter_keys SET retired_at = now() WHERE meter_key = %s AND retired_at IS NULL",
                 (meter_key,))
    conn.execute("INSERT INTO meter_keys (meter_key, key_no, key_enc, master_key_id) VALUES (%s, %s, %s, %s)",
                 (meter_key, (rows[0][0] + 1) if rows else 1, seal_key(master_key, meter_key, aes_key),
                  master_key_id(master_key)))
    return True


@dataclass(frozen=True, slots=True)
class KeyRing:
    """Every registered meter and its keys (current first), decrypted in memory for the decoder.

    Ids are stored in upper case; the decoders print a non-BCD id in lower case (as wmbusmeters does), so both
    lookups compare the upper-case form.
    """

    meters: frozenset[tuple[str, str]]
    keys: dict[tuple[str, str], tuple[bytes, ...]]

    def lookup(self, manufacturer: str, meter_id: str) -> tuple[bytes, ...]:
        """A ``decoders.KeyLookup``."""
        return self.keys.get((manufacturer, meter_id.upper()), ())

    def knows(self, manufacturer: str, meter_id: str) -> bool:
        return (manufacturer, meter_id.upper()) in self.meters


def load_keyring(conn: psycopg.Connection, *, master_key: bytes | None) -> KeyRing:
    """Read every meter and key; keys stay empty when no master key is configured."""
    meters = frozenset((m.strip(), i.strip()) for m, i in conn.execute("SELECT manufacturer, meter_id FROM meters"))
    keys: dict[tuple[str, str], list[bytes]] = {}
    if master_key is not None:
        rows = conn.execute("SELECT meter_key, key_enc FROM meter_keys "
                            "ORDER BY meter_key, retired_at IS NOT NULL, key_no DESC")
        for mk, sealed in rows:
            keys.setdefault(split_meter_key(mk), []).append(open_key(master_key, mk, sealed))
    return KeyRing(meters, {k: tuple(v) for k, v in keys.items()})


def rewrap_keys(conn: psycopg.Connection, *, old_master: bytes, new_master: bytes) -> int:
    """Master-key rotation: re-seal every stored key with ``new_master``; return how many.

    Every key is opened with ``old_master`` before anything is written, so a key that does not open raises
    :class:`RegistryError` and nothing changes; run it inside the caller's transaction with the other sealed
    secrets (``odczyt keys rewrap``).
    """
    rows = conn.execute("SELECT meter_key, key_no, key_enc FROM meter_keys FOR UPDATE").fetchall()
    new_id = master_key_id(new_master)
    resealed = [(seal_key(new_master, mk, open_key(old_master, mk, s)), new_id, mk, no) for mk, no, s in rows]
    with conn.cursor() as cur:
        cur.executemany("UPDATE meter_keys SET key_enc = %s, master_key_id = %s WHERE meter_key = %s AND key_no = %s",
                        resealed)
    return len(rows)


def upsert_service_points(conn: psycopg.Connection, *, points: Iterable[ServicePoint]) -> int:
    """Insert or update service points."""
    rows = [(p.id, p.address, p.customer_ref, p.lat, p.lon, p.area, p.occupied) for p in points]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO service_points (id, address, customer_ref, lat, lon, area, occupied) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET address = EXCLUDED.address, "
            "customer_ref = EXCLUDED.customer_ref, lat = EXCLUDED.lat, lon = EXCLUDED.lon, area = EXCLUDED.area, "
            "occupied = EXCLUDED.occupied", rows)
    return len(rows)


def upsert_installations(conn: psycopg.Connection, *, installations: Iterable[Installation]) -> int:
    """Insert or update installations (keyed by service point and installation time)."""
    rows = [(i.service_point_id, i.meter_key, i.installed_at, i.removed_at, i.initial_m3, i.final_m3)
            for i in installations]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO installations (service_point_id, meter_key, installed_at, removed_at, initial_m3, final_m3) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (service_point_id, installed_at) DO UPDATE SET "
            "meter_key = EXCLUDED.meter_key, removed_at = EXCLUDED.removed_at, initial_m3 = EXCLUDED.initial_m3, "
            "final_m3 = EXCLUDED.final_m3", rows)
    return len(rows)


_OVERLAPS = """
SELECT a.service_point_id, a.installed_at, a.meter_key, b.service_point_id, b.installed_at, b.meter_key
  FROM installations a
  JOIN installations b
    ON (a.meter_key = b.meter_key OR a.service_point_id = b.service_point_id)
   AND (a.service_point_id, a.installed_at) < (b.service_point_id, b.installed_at)
   AND tstzrange(a.installed_at, a.removed_at) && tstzrange(b.installed_at, b.removed_at)
 WHERE a.meter_key = ANY(%(m)s) OR b.meter_key = ANY(%(m)s)
    OR a.service_point_id = ANY(%(sp)s) OR b.service_point_id = ANY(%(sp)s)
 ORDER BY 1, 2, 4, 5
"""


def overlapping_installations(conn: psycopg.Connection, *, meter_keys: Iterable[int],
                              service_points: Iterable[str]) -> list[tuple[Installation, Installation]]:
    """Pairs of installations that overlap in time, involving any of ``meter_keys`` or ``service_points``: one
    meter at two service points at once, or two meters at one service point at once."""
    params = {"m": list(meter_keys), "sp": list(service_points)}
    return [(Installation(sp_a, mk_a, at_a), Installation(sp_b, mk_b, at_b))
            for sp_a, at_a, mk_a, sp_b, at_b, mk_b in conn.execute(_OVERLAPS, params).fetchall()]


def keys_sealed_elsewhere(conn: psycopg.Connection, *, master_key: bytes) -> dict[int, str]:
    """Meters with a stored key whose ``master_key_id`` is not ``master_key``'s: meter key → that fingerprint."""
    rows = conn.execute("SELECT meter_key, min(master_key_id) FROM meter_keys WHERE master_key_id <> %s "
                        "GROUP BY meter_key", (master_key_id(master_key),)).fetchall()
    return {int(mk): str(kid) for mk, kid in rows}


def unopenable_keys(conn: psycopg.Connection, *, master_key: bytes, meter_keys: Iterable[int]) -> list[int]:
    """Those of ``meter_keys`` with a stored key that ``master_key`` does not open (wrong key, tampered row)."""
    bad: set[int] = set()
    rows = conn.execute("SELECT meter_key, key_enc FROM meter_keys WHERE meter_key = ANY(%s)", (list(meter_keys),))
    for mk, sealed in rows:
        try:
            open_key(master_key, mk, sealed)
        except RegistryError:
            bad.add(int(mk))
    return sorted(bad)
