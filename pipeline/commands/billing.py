"""``odczyt billing run|export|validate``: billing runs and re-validation from the command line (docs/billing.md)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from typing import Any

import typer

from core.errors import UserError
from pipeline.cli_params import when
from pipeline.commands.api_keys import connect


def _usage(message: str) -> UserError:
    """A user mistake: ``pipeline.cli.run`` prints it as one line on stderr, exit status 2."""
    return UserError(message)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _usage(f"{text!r} is not a date (YYYY-MM-DD, a local Europe/Warsaw calendar day)") from None


def register(app: typer.Typer) -> None:
    """Add the ``billing`` command group."""
    billing = typer.Typer(help="Read to bill: billing runs, exports, validation.", no_args_is_help=True)
    app.add_typer(billing, name="billing")
    register_backfill(billing)

    @billing.command("run")
    def run_cmd(
        first: str = typer.Option(..., "--from", help="First local day (Europe/Warsaw), YYYY-MM-DD."),
        last: str = typer.Option(..., "--to", help="Last local day (inclusive), YYYY-MM-DD."),
        area: str = typer.Option(None, help="Only this area's service points."),
        service_point: list[str] = typer.Option(None, "--service-point", help="Only these (repeatable)."),
    ) -> None:
        """Compute and store a billing run; prints its header as JSON."""
        from core.billing_rules import thresholds_from
        from core.settings import Settings
        from storage.billing_runs import create_run

        a, b = _day(first), _day(last)
        if b < a:
            raise _usage("--to is before --from")
        selection = ({"service_points": list(service_point)} if service_point else
                     {"area": area} if area else {"all": True})
        cfg = Settings().billing
        with connect() as conn:
            run = create_run(conn, first=a, last=b, selection=selection, tariffs=None, th=thresholds_from(cfg),
                             actor="cli:billing", history_days=cfg.history_days, now=datetime.now(UTC))
        typer.echo(json.dumps(run, default=str))

    register_export(billing)


def register_export(billing: typer.Typer) -> None:
    """Add ``billing export`` and ``billing validate``."""

    @billing.command("export")
    def export_cmd(
        run_id: int = typer.Argument(..., min=1),
        fmt: str = typer.Option("csv", "--format", help="csv or jsonl."),
        polish: bool = typer.Option(False, help="CSV with ';' and a decimal comma (Polish Excel)."),
    ) -> None:
        """Write a run's lines to stdout."""
        from api.routers.billing_export import _csv, _flat, _jsonl
        from storage.billing_runs import get_run, stream_lines

        if fmt not in ("csv", "jsonl"):
            raise _usage("--format is csv or jsonl (Parquet: the API's export)")
        with connect() as conn:
            if get_run(conn, run_id) is None:
                raise _usage(f"no billing run {run_id}")
            rows = (_flat(r) for r in stream_lines(conn, run_id))
            for chunk in (_csv(rows, polish) if fmt == "csv" else _jsonl(rows)):
                sys.stdout.buffer.write(chunk)

    @billing.command("validate")
    def validate_cmd(since: datetime = typer.Option(..., parser=when, help="ISO date/time or an age: 30d.")) -> None:
        """Re-run the validation rules over readings since SINCE (results in reading_validations)."""
        from core.billing_rules import thresholds_from
        from core.settings import Settings
        from storage.billing_validate import validate_since

        with connect() as conn:
            checked, invalid = validate_since(conn, since, thresholds_from(Settings().billing), now=datetime.now(UTC))
        typer.echo(f"validated {checked} readings, {invalid} not valid for billing")


def _history_rows(frames: list[Any], ring: Any, cache: Any) -> list[Any]:
    """Meter-stored values (with a date) of the telegrams the kept frames decode to."""
    from core.ids import meter_key
    from core.types import alarm_mask
    from decoders import DecodeError, decode
    from storage.meter_history import StoredValue

    out: list[Any] = []
    for f in frames:
        try:
            t = decode(f.payload, ring.lookup, compact_formats=cache)
        except DecodeError:
            continue
        if not t.history:
            continue
        try:
            key = meter_key(t.manufacturer, t.meter_id)
        except ValueError:
            continue
        mask = alarm_mask(t.alarms_history)
        out.extend(StoredValue(key, h.date, h.value_m3, h.storage, mask, f.received_at)
                   for h in t.history if h.date is not None)
    return out


def register_backfill(billing: typer.Typer) -> None:
    """Add ``billing backfill-history``."""

    @billing.command("backfill-history")
    def backfill_cmd(since: datetime = typer.Option(..., parser=when, help="ISO date/time or an age: 400d.")) -> None:
        """Store the meters' own month-end / billing-date registers from kept raw frames since SINCE."""
        from core.settings import Settings
        from decoders import CompactFormatCache
        from pipeline.commands.db import master_key_bytes
        from storage.frames import kept_frames
        from storage.meter_history import write
        from storage.registry import load_keyring

        master = master_key_bytes(Settings())
        found = new = 0
        cache = CompactFormatCache()
        with connect() as read, connect() as conn:
            ring = load_keyring(read, master_key=master)
            for chunk in kept_frames(read, since=since, only_undecoded=False):
                rows = _history_rows(chunk, ring, cache)
                found += len(rows)
                new += write(conn, rows)
        typer.echo(f"{found} meter-stored values seen, {new} new")
