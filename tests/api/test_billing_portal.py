"""Portal reads: a customer's service points, meter legal validity, reading history with basis, usage per day."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from test_billing_manual import KEY, _client, _setup


def test_portal_reads(db_url: str, make_api_key: Callable[..., str]) -> None:
    _setup(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE meters SET legal_valid_until = '2029-12-31' WHERE meter_key = %s", (KEY,))
        conn.execute("INSERT INTO readings (meter_key, measured_at, received_at, total_m3) VALUES"
                     " (%s, '2026-11-21T10:00Z', '2026-11-21T10:00Z', 120.5)", (KEY,))
    with _client(db_url, make_api_key(db_url, "portal", ["SP-M"])) as portal:
        assert [p["id"] for p in portal.get("/v1/portal/customers/C-1/service-points").json()["items"]] == ["SP-M"]
        assert portal.get("/v1/portal/customers/C-2/service-points").json()["items"] == []
        assert portal.get("/v1/portal/service-points/SP-X").status_code == 403
        sp = portal.get("/v1/portal/service-points/SP-M").json()
        assert sp["meters"][0]["meter"] == "KAM-00000042" and sp["meters"][0]["legal_valid_until"] == "2029-12-31"
        assert sp["open_leaks"] == []
        hist = portal.get("/v1/portal/service-points/SP-M/readings",
                          params={"from": "2026-11-01T00:00:00Z", "to": "2026-12-01T00:00:00Z"}).json()["items"]
        assert [(h["value_m3"], h["basis"]) for h in hist] == [(120.5, "actual"), (120.0, "actual")]
        use = portal.get("/v1/portal/service-points/SP-M/usage",
                         params={"first": "2026-11-20", "last": "2026-11-22"}).json()["items"]
        # 21 Nov: 120 → 120.5 (both actual); 22 Nov: no reading after, so the 3-month average
        assert [u["first"] for u in use] == ["2026-11-20", "2026-11-21", "2026-11-22"]
        assert use[1]["consumption_m3"] == 0.5 and use[1]["basis"] == "actual"
        assert use[2]["basis"] == "estimated:3m" and round(use[2]["consumption_m3"], 6) == round(20.5 / 51 * 37 / 24, 6)
