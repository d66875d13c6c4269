"""End-of-route report: a CSV of every route meter (read / unread) plus meters heard off the route, and a
self-contained HTML page with an SVG map (no internet tiles) of read and unread meters and the GPS track.
"""

from __future__ import annotations

import csv
import html
from dataclasses import dataclass
from pathlib import Path

from collectors.driveby_store import DrivebyStore
from collectors.private_files import private_dir, private_file

_FIELDS = ("meter_id", "status", "address", "lat", "lon", "frames", "last_heard_at", "best_rssi_dbm", "total_m3")
_COLORS = {"read": "#1a9850", "unread": "#d73027", "off-route": "#7f7f7f"}
_W, _H, _PAD = 900, 600, 30


@dataclass(frozen=True)
class ReportPaths:
    """Where the report went, and the headline numbers."""

    csv: Path
    html: Path
    read: int
    unread: int
    off_route: int


def report_rows(store: DrivebyStore) -> list[dict[str, object]]:
    """One row per route meter (read/unread) and per off-route meter heard."""
    heard = store.meters()
    rows: list[dict[str, object]] = []
    for m in store.route().meters:
        info = heard.get(m.meter_id, {})
        rows.append({"meter_id": m.meter_id, "status": "read" if info else "unread", "address": m.address,
                     "lat": m.lat, "lon": m.lon, **{k: info.get(k) for k in _FIELDS[5:]},
                     "frames": info.get("frames", 0)})
    for meter_id, info in sorted(heard.items()):
        if not info["on_route"]:
            rows.append({"meter_id": meter_id, "status": "off-route", "address": "", "lat": info["lat"],
                         "lon": info["lon"], **{k: info.get(k) for k in _FIELDS[5:]}})
    return rows


def _projector(points: list[tuple[float, float]]):  # type: ignore[no-untyped-def]
    lats = [p[0] for p in points] or [0.0]
    lons = [p[1] for p in points] or [0.0]
    lat0, lat1, lon0, lon1 = min(lats), max(lats), min(lons), max(lons)
    span = max(lat1 - lat0, (lon1 - lon0) * 0.64, 1e-4)  # 0.64 ≈ cos(50°): keeps Polish maps square-ish
    scale = min(_W, _H) - 2 * _PAD

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return (_PAD + (lon - lon0) * 0.64 / span * scale, _H - _PAD - (lat - lat0) / span * scale)
    return xy


def _svg(rows: list[dict[str, object]], track: list[tuple[float, float]]) -> str:
    placed = [r for r in rows if r["lat"] is not None and r["lon"] is not None]
    xy = _projector([(float(r["lat"]), float(r["lon"])) for r in placed] + track)  # type: ignore[arg-type]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" style="background:#f4f1ea">']
    if track:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(a, b) for a, b in track))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="#2c7fb8" stroke-width="2" opacity="0.7"/>')
    for r in placed:
        x, y = xy(float(r["lat"]), float(r["lon"]))  # type: ignore[arg-type]
        title = html.escape(f"{r['meter_id']} {r['address']} — {r['status']}")
        radius = 4 if r["status"] == "off-route" else 7
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{radius}" fill="{_COLORS[str(r["status"])]}" '
                     f'class="{r["status"]}"><title>{title}</title></circle>')
    parts.append("</svg>")
    return "\n".join(parts)


def _html(route_id: str, rows: list[dict[str, object]], track: list[tuple[float, float]]) -> str:
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in _COLORS}
    head = "".join(f"<th>{html.escape(f)}</th>" for f in _FIELDS)
    body = "".join("<tr class='{}'>{}</tr>".format(
        r["status"], "".join(f"<td>{html.escape('' if r.get(f) is None else str(r.get(f)))}</td>" for f in _FIELDS))
        for r in rows)
    legend = " · ".join(f'<span style="color:{c}">●</span> {s}: {counts[s]}' for s, c in _COLORS.items())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Drive-by {html.escape(route_id)}</title>"
            "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px}tr.unread{background:#fde0dd}</style></head><body>"
            f"<h1>Drive-by report — route {html.escape(route_id)}</h1><p>{legend} · GPS track points: "
            f"{len(track)}</p>{_svg(rows, track)}<table><tr>{head}</tr>{body}</table></body></html>")


def write_report(store: DrivebyStore, out_dir: Path | str) -> ReportPaths:
    """Write ``<route>.csv`` and ``<route>.html`` into ``out_dir``."""
    out = Path(out_dir)
    private_dir(out)
    route_id = store.route().route_id or "route"
    rows, track = report_rows(store), store.track()
    csv_path, html_path = out / f"{route_id}.csv", out / f"{route_id}.html"
    with private_file(csv_path).open("w", newline="", encoding="utf-8") as fh:  # 0600: addresses, totals
        writer = csv.DictWriter(fh, fieldnames=_FIELDS)
        writer.writeheader()
        writer.writerows({k: r.get(k) for k in _FIELDS} for r in rows)
    private_file(html_path).write_text(_html(route_id, rows, track), encoding="utf-8")
    count = {s: sum(1 for r in rows if r["status"] == s) for s in _COLORS}
    return ReportPaths(csv_path, html_path, count["read"], count["unread"], count["off-route"])
