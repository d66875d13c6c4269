"""Streamed exports of a billing run: CSV (optionally ``;`` and a decimal comma for Polish Excel), JSON Lines
and Parquet (row groups of 5,000 lines). Each export reads the run with its own pooled connection, so the
stream does not depend on the request's connection outliving the handler."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

from psycopg_pool import ConnectionPool

from storage.billing_runs import stream_lines

FIELDS = ("service_point_id", "meters", "opening_m3", "opening_basis", "opening_at", "closing_m3",
          "closing_basis", "closing_at", "consumption_m3", "basis", "legally_valid", "flags", "tariffs")
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson",
         "parquet": "application/vnd.apache.parquet"}


def _flat(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: r[k] for k in FIELDS}
    out["meters"] = " ".join(r["meters"])
    out["flags"] = " ".join(r["flags"])
    out["tariffs"] = json.dumps(r["tariffs"], separators=(",", ":"))
    for k in ("opening_at", "closing_at"):
        out[k] = None if r[k] is None else r[k].isoformat()
    return out


def _rows(pool: ConnectionPool, run_id: int) -> Iterator[dict[str, Any]]:
    with pool.connection() as conn:
        for r in stream_lines(conn, run_id):
            yield _flat(r)


def _num(v: Any, polish: bool) -> Any:
    if isinstance(v, float) and polish:
        return repr(v).replace(".", ",")
    return "" if v is None else v


def _csv(rows: Iterator[dict[str, Any]], polish: bool) -> Iterator[bytes]:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";" if polish else ",", lineterminator="\r\n")
    w.writerow(FIELDS)
    for i, r in enumerate(rows):
        w.writerow([_num(r[k], polish) for k in FIELDS])
        if i % 1000 == 999:
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode("utf-8")


def _jsonl(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for r in rows:
        r["tariffs"] = json.loads(r["tariffs"])
        yield (json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8")


def _parquet(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(k, pa.float64() if k.endswith("_m3") else pa.bool_() if k == "legally_valid"
                         else pa.string()) for k in FIELDS])
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, schema) as writer:
        batch: list[dict[str, Any]] = []
        for r in rows:
            batch.append(r)
            if len(batch) == 5000:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
                yield sink.getvalue()
                sink.seek(0)
                sink.truncate()
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    yield sink.getvalue()


def stream(pool: ConnectionPool, run_id: int, fmt: str, polish: bool) -> tuple[str, Iterator[bytes]]:
    """(media type, body chunks) of a run's export in ``fmt`` (csv, jsonl, parquet)."""
    rows = _rows(pool, run_id)
    if fmt == "csv":
        return MEDIA["csv"], _csv(rows, polish)
    if fmt == "jsonl":
        return MEDIA["jsonl"], _jsonl(rows)
    return MEDIA["parquet"], _parquet(rows)
