"""What an alert is about, in words and links: the meter (manufacturer + id), service point, address, customer.

Pure functions over an alert row as ``storage.alerts`` returns it. ``links`` points at resources that exist in
the API (the meter's readings, the service point's consumption, the gateway) and at the page the dashboard
will serve for the alert; ``notice_pl`` is the Polish text a customer receives (SMS or e-mail).
"""

from __future__ import annotations

from typing import Any

# Polish names of alert kinds as a customer or dispatcher reads them
KIND_PL: dict[str, str] = {
    "continuous_flow": "ciągły przepływ (możliwy wyciek)",
    "night_flow": "przepływ nocny (możliwy wyciek)",
    "burst": "bardzo duży przepływ (możliwa awaria instalacji)",
    "reverse_flow": "przepływ wsteczny",
    "stuck": "wodomierz nie rejestruje zużycia",
    "silent": "brak odczytów z wodomierza",
    "never_heard": "wodomierz nie nadaje od montażu",
    "legalization_due": "zbliża się koniec ważności legalizacji",
    "legalization_expired": "legalizacja wodomierza wygasła",
    "consumption_anomaly": "nietypowo wysokie zużycie",
    "meter_leak": "wodomierz zgłasza wyciek",
    "meter_burst": "wodomierz zgłasza awarię instalacji",
    "gateway_offline": "koncentrator niedostępny",
    "gateway_degraded": "koncentrator działa nieprawidłowo",
}
EVENT_PL: dict[str, str] = {
    "raised": "Wykryto",
    "escalated": "Nasilenie",
    "acknowledged": "Przyjęto zgłoszenie",
    "assigned": "Przydzielono",
    "resolved": "Zakończono",
    "dismissed": "Zamknięto jako fałszywy alarm",
}


def meter_label(alert: dict[str, Any]) -> str | None:
    """``KAM 12345678`` for a meter-level alert, None when the alert names no registered meter."""
    if alert.get("manufacturer") and alert.get("meter_id"):
        return f"{alert['manufacturer']} {alert['meter_id']}"
    return None


def links(alert: dict[str, Any]) -> dict[str, str]:
    """Drill-down links of an alert: API resources that exist, and the UI page of the alert."""
    out = {"self": f"/v1/alerts/{alert['id']}", "ui": f"/ui/alerts/{alert['id']}"}
    if alert.get("manufacturer") and alert.get("meter_id"):
        out["meter"] = f"/v1/meters/{alert['meter_id']}/readings?manufacturer={alert['manufacturer']}"
    if alert.get("service_point_id"):
        out["service_point"] = f"/v1/service-points/{alert['service_point_id']}/consumption"
        out["service_point_ui"] = f"/ui/service-points/{alert['service_point_id']}"
    if alert.get("gateway_id"):
        out["gateway"] = f"/v1/gateways/{alert['gateway_id']}"
    if alert.get("incident_id"):
        out["incident"] = f"/v1/incidents/{alert['incident_id']}"
    return out


def describe(alert: dict[str, Any]) -> str:
    """One line naming the alert's subject: where and which meter or gateway."""
    parts = []
    if alert.get("address"):
        parts.append(str(alert["address"]))
    if alert.get("service_point_id"):
        parts.append(f"punkt {alert['service_point_id']}")
    label = meter_label(alert)
    if label:
        parts.append(f"wodomierz {label}")
    if alert.get("gateway_id"):
        parts.append(f"koncentrator {alert['gateway_id']}")
    return ", ".join(parts) or str(alert.get("subject", ""))


def notice_pl(event: str, alert: dict[str, Any], template: str | None = None) -> str:
    """The Polish notice for ``event`` of ``alert``; ``template`` (``str.format`` fields: event, kind, address,
    service_point, meter, when) replaces the default wording."""
    fields = {
        "event": EVENT_PL.get(event, event),
        "kind": KIND_PL.get(str(alert.get("kind")), str(alert.get("kind"))),
        "address": alert.get("address") or "adres nieznany",
        "service_point": alert.get("service_point_id") or "-",
        "meter": meter_label(alert) or "-",
        "when": str(alert.get("detected_at") or "")[:16].replace("T", " "),
    }
    template = template or DEFAULT_TEMPLATE_PL
    try:
        return template.format(**fields)
    except (KeyError, IndexError, ValueError):  # a broken configured template must not stop the notice
        return DEFAULT_TEMPLATE_PL.format(**fields)


DEFAULT_TEMPLATE_PL = (
    "Wodociągi: {event}: {kind}. Adres: {address} (punkt {service_point}, wodomierz {meter}), od {when}. "
    "Prosimy sprawdzić instalację."
)
