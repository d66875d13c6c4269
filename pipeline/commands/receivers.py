"""``odczyt receivers``: identify the receiver on a port, or watch the frames it hears."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``receivers`` command group."""
    group = typer.Typer(help="wM-Bus receivers: probe, list, listen.", no_args_is_help=True)

    @group.command("probe")
    def probe(port: str = typer.Argument(..., help="serial device, e.g. /dev/ttyUSB0")) -> None:
        """Tell which receiver is attached to PORT (tries each protocol's identification)."""
        from hardware.probe import probe as probe_port

        result = probe_port(port)
        if result is None:
            typer.echo(f"{port}: no known receiver answered (tried RC1180, iM871A, Amber, CUL)")
            raise typer.Exit(1)
        typer.echo(f"{port}: {result.kind} ({result.description})")

    @group.command("list")
    def list_kinds() -> None:
        """Receiver kinds this build knows."""
        from hardware import DRIVERS

        for kind in sorted(DRIVERS):
            typer.echo(kind)

    @group.command("listen")
    def listen(kind: str, port: str, link_mode: str = "T1", count: int = 0) -> None:
        """Print frames (hex, RSSI) as they are heard; stop after COUNT frames (0 = forever)."""
        from hardware import open_receiver

        with open_receiver(kind, port, link_mode=link_mode, source="cli") as rx:
            for n, frame in enumerate(rx, start=1):
                typer.echo(f"{frame.received_at.isoformat()} {frame.link_mode} {frame.rssi_dbm} "
                           f"{frame.payload.hex().upper()}")
                if count and n >= count:
                    break

    app.add_typer(group, name="receivers")
