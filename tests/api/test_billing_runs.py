"""Billing runs through the API with exact expected lines (issue 14): October 2026 in Warsaw (the DST change
on 25 October makes it 745 hours), a tariff change on 13 October, and one service point per scenario."""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pyarrow.parquet as pq
from prometheus_client import CollectorRegistry

from api.app import create_app
from core.ids import meter_key

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T0 = datetime(2026, 9, 1, tzinfo=UTC)
INSTALLED = datetime(2025, 1, 1, tzinfo=UTC)
REMOVED = datetime(2026, 10, 15, 10, tzinfo=UTC)
OPEN_AT = datetime(2026, 9, 30, 21, tzinfo=UTC)  # last reading before 1 Oct 00:00 CEST (22:00 UTC)
CLOSE_AT = datetime(2026, 10, 31, 22, tzinfo=UTC)  # last reading before 1 Nov 00:00 CET (23:00 UTC)
RUN = {"period": {"first": "2026-10-01", "last": "2026-10-31", "timezone": "Europe/Warsaw"},
       "tariffs": [{"valid_from": "2026-01-01", "name": "T1"}, {"valid_from": "2026-10-13", "name": "T2"}]}


def _hours(t: datetime) -> float:
    return (t - T0).total_seconds() / 3600


def _meter(conn: psycopg.Connection, sp: str, serial: int, *, installed: datetime = INSTALLED,
           removed: datetime | None = None, initial: float = 0.0, final: float | None = None,
           q3: float | None = None) -> int:
    mid = f"{serial:08d}"
    key = meter_key("KAM", mid)
    conn.execute("INSERT INTO meters (meter_key, manufacturer, meter_id, q3_m3h, legalization_mark_type,"
                 " legalization_mark_value, legal_valid_until) VALUES (%s, 'KAM', %s, %s, 'expiry', '2030',"
                 " '2030-12-31') ON CONFLICT DO NOTHING", (key, mid, q3))
    conn.execute("INSERT INTO service_points (id, area) VALUES (%s, 'north') ON CONFLICT DO NOTHING", (sp,))
    conn.execute("INSERT INTO installations VALUES (%s, %s, %s, %s, %s, %s)",
                 (sp, key, installed, removed, initial, final))
    return key


def _readings(conn: psycopg.Connection, key: int, rows: list[tuple[datetime, float, float | None, datetime]]) -> None:
    with conn.cursor().copy("COPY readings (meter_key, measured_at, received_at, total_m3, backward_m3) "
                            "FROM STDIN") as cp:
        for at, value, back, rec in rows:
            cp.write_row((key, at, rec, value, back))


def _hourly(first: datetime, last: datetime, value: Callable[[datetime], float],
            back: Callable[[datetime], float | None] = lambda t: None) -> list[tuple[datetime, float, float | None,
                                                                                       datetime]]:
    out, t = [], first
    while t <= last:
        out.append((t, round(value(t), 6), back(t), t))
        t += timedelta(hours=1)
    return out


def _town(db_url: str) -> None:
    end = datetime(2026, 11, 5, tzinfo=UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        a = _meter(conn, "SP-A", 1)
        _readings(conn, a, _hourly(T0, end, lambda t: 100 + 0.01 * _hours(t)))
        old = _meter(conn, "SP-B", 2, removed=REMOVED, final=200 + 0.01 * _hours(REMOVED))
        _readings(conn, old, _hourly(T0, REMOVED, lambda t: 200 + 0.01 * _hours(t)))
        new = _meter(conn, "SP-B", 3, installed=REMOVED, initial=0.3)
        _readings(conn, new, _hourly(REMOVED + timedelta(hours=1), end,
                                     lambda t: 0.3 + 0.01 * (_hours(t) - _hours(REMOVED))))
        c = _meter(conn, "SP-C", 4)  # a falling register, no explanation: the value is not used
        _readings(conn, c, _hourly(T0, end, lambda t: 100 + 0.01 * _hours(t) - (5 if t == CLOSE_AT else 0)))
        d = _meter(conn, "SP-D", 5)  # a falling register explained by the reverse-flow register
        _readings(conn, d, _hourly(T0, end, lambda t: 100 + 0.01 * _hours(t) - (5 if t == CLOSE_AT else 0),
                                   lambda t: 5.0 if t >= CLOSE_AT else 0.0))
        e = _meter(conn, "SP-E", 6)  # a five-digit register wrapping through 99,999
        _readings(conn, e, _hourly(T0, end, lambda t: (99_990 + 0.01 * _hours(t)) % 100_000))
        f = _meter(conn, "SP-F", 7)  # a stale meter: from 26 Oct its telegrams carry times 3 days old
        stale = datetime(2026, 10, 25, 23, tzinfo=UTC)
        rows = _hourly(T0, end, lambda t: 100 + 0.01 * _hours(t))
        _readings(conn, f, [(t, v, b, t + timedelta(days=3) if t >= stale else r) for t, v, b, r in rows])
        g = _meter(conn, "SP-G", 8)  # a drive-by meter: only its stored month-end registers
        conn.execute("INSERT INTO meter_stored_values (meter_key, stored_date, value_m3, received_at) VALUES"
                     " (%s, '2026-09-30', 50.0, '2026-11-20Z'), (%s, '2026-10-31', 53.2, '2026-11-20Z')", (g, g))
        _meter(conn, "SP-H", 9)  # nothing at all


def _val(base: float, t: datetime) -> float:
    return base + 0.01 * _hours(t)


def _client(db_url: str, key: str) -> TestClient:
    return TestClient(create_app(db_url, registry=CollectorRegistry()), headers={"Authorization": f"Bearer {key}"})


def test_october_run_exact_lines(db_url: str, make_api_key: Callable[..., str]) -> None:
    _town(db_url)
    with _client(db_url, make_api_key(db_url, "billing")) as client:
        got = client.post("/v1/billing/runs", json={**RUN, "selection": {"area": "north"}})
        assert got.status_code == 201, got.text
        run = got.json()
        assert run["version"] == 1 and run["lines"] == 8
        lines = {ln["service_point_id"]: ln for ln in
                 client.get(f"/v1/billing/runs/{run['id']}/lines").json()["items"]}
    a = lines["SP-A"]
    assert (a["opening"]["basis"], a["closing"]["basis"], a["basis"]) == ("actual", "actual", "actual")
    assert a["opening"]["at"] == "2026-09-30T21:00:00Z" and a["closing"]["at"] == "2026-10-31T22:00:00Z"
    assert round(a["consumption_m3"], 6) == 7.45 and a["flags"] == [] and a["legally_valid"] is True  # 745 h
    assert [(p["tariff"], p["from"], p["to"], p["days"], p["m3"]) for p in a["tariffs"]] == [
        ("T1", "2026-10-01", "2026-10-12", 12, 2.884), ("T2", "2026-10-13", "2026-10-31", 19, 4.566)]
    b = lines["SP-B"]
    assert b["meters"] == ["KAM-00000002", "KAM-00000003"] and "replacement" in b["flags"]
    assert round(b["opening"]["value_m3"], 6) == round(_val(200, OPEN_AT), 6) == 207.17
    assert b["closing"]["basis"] == "actual" and round(b["closing"]["value_m3"], 6) == 4.26
    assert round(b["consumption_m3"], 6) == 7.45  # old meter 3.49 up to its final value + new meter 3.96
    c = lines["SP-C"]
    assert c["closing"]["basis"] == "interpolated" and "falling_register" in c["flags"]
    assert round(c["consumption_m3"], 6) == 7.46 and c["basis"] == "interpolated"  # to 23:00 UTC itself
    d = lines["SP-D"]
    assert d["closing"]["basis"] == "actual" and d["flags"] == ["backflow"]
    assert round(d["consumption_m3"], 6) == 2.45  # net of the 5 m³ that flowed back
    e = lines["SP-E"]
    assert "rollover" in e["flags"] and round(e["consumption_m3"], 6) == 7.45 and e["basis"] == "actual"
    f = lines["SP-F"]
    assert f["closing"]["basis"] == "estimated:3m" and "stale" in f["flags"]
    assert round(f["consumption_m3"], 6) == 7.46  # 0.24 m³/day up to 23:00 UTC, exact for a steady meter
    g = lines["SP-G"]
    assert (g["opening"]["basis"], g["closing"]["basis"], round(g["consumption_m3"], 6)) == (
        "meter_stored", "meter_stored", 3.2)
    h = lines["SP-H"]
    assert h["consumption_m3"] is None and h["basis"] == "none" and h["opening"]["value_m3"] is None
    assert [p["m3"] for p in h["tariffs"]] == [None, None]


def test_exports_and_new_version(db_url: str, make_api_key: Callable[..., str]) -> None:
    _town(db_url)
    with _client(db_url, make_api_key(db_url, "billing")) as client:
        body = {**RUN, "selection": {"service_points": ["SP-A", "SP-G"]}}
        first = client.post("/v1/billing/runs", json=body).json()
        plain = client.get(f"/v1/billing/runs/{first['id']}/export", params={"format": "csv"})
        rows = list(csv.DictReader(io.StringIO(plain.text)))
        assert [r["service_point_id"] for r in rows] == ["SP-A", "SP-G"] and rows[1]["consumption_m3"] == "3.2"
        polish = client.get(f"/v1/billing/runs/{first['id']}/export", params={"format": "csv", "polish": True})
        prow = list(csv.DictReader(io.StringIO(polish.text), delimiter=";"))[1]
        assert prow["consumption_m3"] == "3,2" and prow["opening_basis"] == "meter_stored"
        jl = client.get(f"/v1/billing/runs/{first['id']}/export", params={"format": "jsonl"}).text.splitlines()
        assert json.loads(jl[0])["tariffs"][1]["tariff"] == "T2"
        pq_body = client.get(f"/v1/billing/runs/{first['id']}/export", params={"format": "parquet"}).content
        table = pq.read_table(io.BytesIO(pq_body))
        assert table.column("service_point_id").to_pylist() == ["SP-A", "SP-G"]
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("UPDATE meter_stored_values SET value_m3 = 54.0 WHERE stored_date = '2026-10-31'")
        second = client.post("/v1/billing/runs", json=body).json()
        assert second["version"] == 2 and second["id"] != first["id"]
        diff = client.get(f"/v1/billing/runs/{second['id']}/diff").json()
        assert diff["previous_run"] == first["id"]
        assert [(c["service_point_id"], c["before_m3"], round(c["after_m3"], 6)) for c in diff["changed"]] == [
            ("SP-G", 3.2, 4.0)]
        # the first run is a snapshot: unchanged
        g = client.get(f"/v1/billing/runs/{first['id']}/lines").json()["items"][1]
        assert g["consumption_m3"] == 3.2
        bad = client.post("/v1/billing/runs", json={**body, "period": {**RUN["period"], "timezone": "UTC"}})
        assert bad.status_code == 422
        assert client.get("/v1/billing/runs/999999").status_code == 404


def test_roles(db_url: str, make_api_key: Callable[..., str]) -> None:
    with _client(db_url, make_api_key(db_url, "portal")) as client:
        assert client.post("/v1/billing/runs", json={**RUN, "selection": {"all": True}}).status_code == 403
