"""Decoded readings on MQTT, for Home Assistant, Node-RED and MQTT dashboards (opt-in:
``ODCZYT_INGEST__PUBLISH_READINGS=true``).

The ingest worker calls :meth:`ReadingsPublisher.publish` with a batch's reading rows (``storage.writer``'s
``READING_COLUMNS``) AFTER the batch committed and was acknowledged: a reading is published once it is stored,
never before; a publishing failure is logged and never holds up ingest.

* ``{topic_prefix}/readings/{manufacturer}/{meter_id}`` (default ``odczyt/v1/readings/KAM/12345678``), QoS 1,
  retained when ``ODCZYT_INGEST__PUBLISH_RETAIN=true``; payload JSON: ``manufacturer``, ``meter_id``,
  ``total_m3``, ``target_m3``, ``flow_m3h``, ``measured_at`` (ISO 8601, UTC), ``alarms`` (names), ``source``,
  ``service_point`` (null when unknown).
* Home Assistant discovery (``ODCZYT_INGEST__HA_DISCOVERY=true``): one retained config per sensor at
  ``{ha_prefix}/sensor/{object_id}/total/config`` with ``device_class: water``, ``state_class:
  total_increasing``, ``unit_of_measurement: m³``. **Replacements:** when the meter's current service point is
  known (an open installation), ``object_id`` is ``odczyt_sp_<service point>``, so the sensor belongs to the
  service point: after a replacement the config is published again with the new meter's state topic and the
  same ``unique_id`` — the same Home Assistant entity, whose ``total_increasing`` statistics treat the new
  meter's lower total as a meter reset. Without a known service point, ``object_id`` is
  ``odczyt_<manufacturer>_<meter_id>`` (one sensor per meter). A config is sent once per process and sensor
  unless its state topic changes.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Collection, Sequence
from datetime import date, datetime
from typing import Any

from core.ids import split_meter_key
from core.settings import IngestSettings
from core.types import SOURCE_CODES, alarms_from_mask
from storage.writer import READING_COLUMNS

log = logging.getLogger(__name__)
_COLUMN = {name: i for i, name in enumerate(READING_COLUMNS)}
_SOURCES = {code: str(source.value) for source, code in SOURCE_CODES.items()}
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")

Publish = Callable[[str, bytes, int, bool], object]  # topic, payload, qos, retain
PointLookup = Callable[[Collection[int]], dict[int, str]]


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, datetime | date) else None


def reading_message(row: Sequence[Any], service_point: str | None) -> tuple[str, str, dict[str, Any]]:
    """Manufacturer, meter id and the JSON object of one reading row."""
    manufacturer, meter_id = split_meter_key(int(row[_COLUMN["meter_key"]]))
    alarms = row[_COLUMN["alarms"]]
    body = {
        "manufacturer": manufacturer,
        "meter_id": meter_id,
        "total_m3": row[_COLUMN["total_m3"]],
        "target_m3": row[_COLUMN["target_m3"]],
        "target_date": _iso(row[_COLUMN["target_date"]]),
        "flow_m3h": row[_COLUMN["flow_m3h"]],
        "measured_at": _iso(row[_COLUMN["measured_at"]]),
        "alarms": sorted(a.value for a in alarms_from_mask(int(alarms or 0))),
        "source": _SOURCES.get(row[_COLUMN["source"]], str(row[_COLUMN["source"]])),
        "service_point": service_point,
    }
    return manufacturer, meter_id, body


def discovery_config(state_topic: str, manufacturer: str, meter_id: str,
                     service_point: str | None) -> tuple[str, dict[str, Any]]:
    """The object id and Home Assistant discovery config of the total-volume sensor (see module docstring)."""
    if service_point is not None:
        object_id = "odczyt_sp_" + _UNSAFE.sub("_", service_point)
        name, device = f"Water {service_point}", {"identifiers": [object_id], "name": f"Service point {service_point}"}
    else:
        object_id = f"odczyt_{manufacturer}_{meter_id}".lower()
        name, device = f"Water {manufacturer} {meter_id}", {"identifiers": [object_id],
                                                             "name": f"{manufacturer} {meter_id}"}
    device |= {"manufacturer": manufacturer, "model": "wM-Bus water meter", "via_device": "odczyt"}
    config = {
        "name": name,
        "unique_id": f"{object_id}_total",
        "object_id": f"{object_id}_total",
        "state_topic": state_topic,
        "value_template": "{{ value_json.total_m3 }}",
        "json_attributes_topic": state_topic,
        "device_class": "water",
        "state_class": "total_increasing",
        "unit_of_measurement": "m³",
        "device": device,
    }
    return object_id, config


class ReadingsPublisher:
    """Publishes committed readings (and discovery configs) through ``publish`` (a connected paho client's)."""

    def __init__(self, publish: Publish, settings: IngestSettings, topic_prefix: str,
                 service_points: PointLookup | None = None) -> None:
        self._publish, self.settings, self.prefix = publish, settings, topic_prefix.rstrip("/")
        self._points = service_points
        self._announced: dict[str, str] = {}  # object id → state topic of its last config

    def topic(self, manufacturer: str, meter_id: str) -> str:
        """The readings topic of a meter."""
        return f"{self.prefix}/readings/{manufacturer}/{meter_id}"

    def publish(self, rows: Sequence[Sequence[Any]]) -> int:
        """Publish every reading row (QoS 1); returns how many. Errors are logged, never raised."""
        if not rows:
            return 0
        try:
            points = self._lookup_quiet({int(r[_COLUMN["meter_key"]]) for r in rows})
            for row in rows:
                self._one(row, points.get(int(row[_COLUMN["meter_key"]])))
        except Exception:  # readings are stored; publishing is best effort and must not stop ingest
            log.exception("publishing readings on MQTT failed")
            return 0
        return len(rows)

    def _lookup_quiet(self, keys: Collection[int]) -> dict[int, str]:
        if self._points is None:
            return {}
        try:
            return self._points(keys)
        except Exception as exc:  # the service point is extra information in the payload
            log.warning("service points not looked up for published readings: %s", exc)
            return {}

    def _one(self, row: Sequence[Any], service_point: str | None) -> None:
        manufacturer, meter_id, body = reading_message(row, service_point)
        topic = self.topic(manufacturer, meter_id)
        if self.settings.ha_discovery:
            object_id, config = discovery_config(topic, manufacturer, meter_id, service_point)
            if self._announced.get(object_id) != topic:
                self._publish(f"{self.settings.ha_prefix}/sensor/{object_id}/total/config",
                              json.dumps(config).encode(), 1, True)
                self._announced[object_id] = topic
        self._publish(topic, json.dumps(body).encode(), 1, self.settings.publish_retain)
