"""``odczyt collect``: the fixed-gateway daemon (receiver → spool → MQTT). See docs/collectors.md."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from core.settings import Settings
from pipeline.cli_params import require_device

MqttProtocol = Literal["5", "3.1.1", "auto"]


def register(app: typer.Typer) -> None:
    """Add the ``collect`` command."""

    @app.command("collect")
    def collect(
        receiver: str = typer.Option(None, help="im871a, amb8465, cul, rc1180, rtlwmbus, rtl433 (or none)"),
        port: str = typer.Option(None, help="serial device, '-' for stdin, a FIFO, or exec:<command>"),
        link_mode: str = typer.Option(None, help="T1, C1, S1, C1T1 (receiver dependent)"),
        gateway_id: str = typer.Option(None, help="topic odczyt/v1/frames/<gateway-id>"),
        mqtt_url: str = typer.Option(None, help="mqtt://[user:pass@]host:port or mqtts://…"),
        spool: Path = typer.Option(None, help="SQLite spool file"),
        batch_frames: int = typer.Option(None, help="publish when this many frames wait"),
        batch_ms: int = typer.Option(None, help="…or when the oldest waiting frame is this old"),
        heartbeat_s: float = typer.Option(None, help="status heartbeat period"),
        silence_reset_s: float = typer.Option(None, help="reset the receiver after this much silence"),
        spool_max_frames: int = typer.Option(None, help="spool bound (oldest dropped beyond it)"),
        gps_port: str = typer.Option(None, help="NMEA GPS serial port (tags frames with position)"),
        protocol: MqttProtocol = typer.Option(None, help="MQTT protocol (default from settings: auto)"),
    ) -> None:
        """Run the fixed gateway until SIGTERM."""
        from collectors.daemon import CollectOptions, run

        settings = Settings()
        opts = CollectOptions.from_settings(
            settings, receiver=receiver, port=port, link_mode=link_mode, gateway_id=gateway_id,
            mqtt_url=mqtt_url, spool_path=spool, batch_frames=batch_frames, batch_ms=batch_ms,
            heartbeat_s=heartbeat_s, silence_reset_s=silence_reset_s, spool_max_frames=spool_max_frames,
            gps_port=gps_port, protocol=protocol)
        require_device("--port", opts.port)
        require_device("--gps-port", opts.gps_port)
        run(opts, settings)
