"""Notice payloads and texts name the subject: staff get meter, service point, address and links; customers
get the Polish text only."""

from __future__ import annotations

from datetime import UTC, datetime

from alerts.channels.email import render
from alerts.notify import build_payload, for_audience

ROW = {"id": 7, "kind": "night_flow", "subject": "sp:SP-1", "meter_key": 123, "manufacturer": "KAM",
       "meter_id": "00000001", "service_point_id": "SP-1", "address": "ul. Wodna 1, Kraków", "customer_ref": "C-1",
       "area": "north", "gateway_id": None, "incident_id": 3, "severity": "warning", "state": "open",
       "evidence": {"min_night_flow_m3h": 0.02}, "detected_at": datetime(2026, 11, 2, 1, tzinfo=UTC),
       "opened_at": datetime(2026, 11, 2, 6, tzinfo=UTC), "resolved_at": None}


def test_staff_payload_and_email_name_meter_point_address_and_links() -> None:
    payload = build_payload("raised", ROW)
    alert = payload["alert"]
    assert (alert["manufacturer"], alert["meter_id"], alert["address"], alert["customer_ref"]) == (
        "KAM", "00000001", "ul. Wodna 1, Kraków", "C-1")
    assert alert["links"]["incident"] == "/v1/incidents/3" and alert["detected_at"] == "2026-11-02T01:00:00+00:00"
    assert alert["description"] == "ul. Wodna 1, Kraków, punkt SP-1, wodomierz KAM 00000001"
    subject, body = render(payload)
    assert "ul. Wodna 1, Kraków" in subject and "Meter: KAM 00000001" in body
    assert "Link (service_point): /v1/service-points/SP-1/consumption" in body


def test_customer_payload_is_the_polish_notice_without_internals() -> None:
    payload = for_audience(build_payload("raised", ROW), "customer")
    assert "evidence" not in payload["alert"] and "customer_ref" not in payload["alert"]
    assert payload["text_pl"].startswith("Wodociągi: Wykryto: przepływ nocny (możliwy wyciek). Adres: ul. Wodna 1")
    subject, body = render(payload)
    assert subject.endswith("ul. Wodna 1, Kraków") and body == payload["text_pl"]
    assert for_audience(build_payload("raised", ROW), "staff")["alert"]["evidence"] == {"min_night_flow_m3h": 0.02}
