"""``odczyt receivers``: identify the receiver on a port, or watch the frames it hears.

``listen`` prints one line per frame: time, link mode, RSSI, manufacturer, meter id, version, device type,
whether the meter is in the registry (``known`` / ``unknown``; ``-`` when no ``ODCZYT_DATABASE_URL`` is set)
and the frame's hex. ``auto`` as the receiver kind probes the port (network bridge URLs are ESP32 bridges).
"""

from __future__ import annotations

from collections.abc import Callable

import typer

from core.types import RawFrame


def describe_frame(frame: RawFrame, known: Callable[[str, str], bool | None]) -> str:
    """One ``listen`` line for ``frame`` (link-layer identity; ``known`` answers None when it cannot tell)."""
    from core.ids import manufacturer_letters
    from decoders.address import meter_id_text
    from decoders.tables import DEVICE_TYPES

    data = frame.payload
    head = f"{frame.received_at.isoformat()} {frame.link_mode} {frame.rssi_dbm}"
    if len(data) < 10:
        return f"{head} ? ? ? ? - {data.hex().upper()}"
    man, meter = manufacturer_letters(data[2] | data[3] << 8), meter_id_text(data[4:8])
    dtype = DEVICE_TYPES.get(data[9], f"type 0x{data[9]:02x}")
    state = {True: "known", False: "unknown", None: "-"}[known(man, meter)]
    return f"{head} {man} {meter} v0x{data[8]:02x} {dtype.replace(' ', '_')} {state} {data.hex().upper()}"


def registry_lookup() -> Callable[[str, str], bool | None]:
    """``known(manufacturer, id)`` from the registry when ``ODCZYT_DATABASE_URL`` is set, else always None."""
    from core.settings import Settings

    settings = Settings()
    if settings.database_url is None:
        return lambda _m, _i: None
    import psycopg

    from core.ids import meter_key
    from pipeline.commands.db import database_url
    from storage.analysis_state import meter_links

    with psycopg.connect(database_url(settings), autocommit=True, connect_timeout=5) as conn:
        keys = set(meter_links(conn)[0])

    def known(manufacturer: str, meter_id: str) -> bool | None:
        try:
            return meter_key(manufacturer, meter_id.upper()) in keys
        except ValueError:
            return False

    return known


def register(app: typer.Typer) -> None:
    """Add the ``receivers`` command group."""
    group = typer.Typer(help="wM-Bus receivers: probe, list, listen.", no_args_is_help=True)

    @group.command("probe")
    def probe(port: str = typer.Argument(..., help="serial device, e.g. /dev/ttyUSB0")) -> None:
        """Tell which receiver is attached to PORT (tries each protocol's identification)."""
        from hardware import PROBE_ORDER
        from hardware.probe import probe as probe_port

        result = probe_port(port)
        if result is None:
            typer.echo(f"{port}: no known receiver answered (tried {', '.join(PROBE_ORDER)})")
            raise typer.Exit(1)
        typer.echo(f"{port}: {result.kind} ({result.description})")

    @group.command("list")
    def list_kinds() -> None:
        """Receiver kinds this build knows."""
        from hardware import DRIVERS

        for kind in sorted(DRIVERS):
            typer.echo(kind)

    @group.command("listen")
    def listen(kind: str = typer.Argument(..., help="receiver kind (see 'receivers list') or auto"),
               port: str = typer.Argument(..., help="serial device, pipe, or bridge URL (tcp://, udp://, mqtt://)"),
               link_mode: str = "T1", count: int = 0) -> None:
        """Print frames as they are heard (meter, type, known to the registry, hex); stop after COUNT (0 = never)."""
        from hardware import open_receiver

        known = registry_lookup()
        with open_receiver(kind, port, link_mode=link_mode, source="cli") as rx:
            for n, frame in enumerate(rx, start=1):
                typer.echo(describe_frame(frame, known))
                if count and n >= count:
                    break

    app.add_typer(group, name="receivers")
