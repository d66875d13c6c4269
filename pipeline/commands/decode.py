"""``odczyt decode``: decode wM-Bus telegrams given as hex, one at a time or as a JSON-lines stream.

* ``odczyt decode HEX [--key HEX]`` prints one JSON object.
* ``odczyt decode --jsonl FILE|-`` reads lines ``{"telegram": HEX, "key": HEX|null, "preceding": [HEX…]}``
  and writes one JSON line per input line, in order, each with ``ok`` and ``error``; failures never stop
  the stream (exit code 0).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import typer

if TYPE_CHECKING:  # imported where used: the CLI starts faster for every other command
    from decoders import DecodeError, KeyLookup


def _lookup(key_hex: str | None) -> KeyLookup | None:
    if not key_hex:
        return None
    key = bytes.fromhex(key_hex)

    def lookup(_manufacturer: str, _meter_id: str) -> Sequence[bytes]:
        return (key,)

    return lookup


def _failure(message: str, layer: str | None = None, exc: DecodeError | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": False, "error": message, "error_layer": layer}
    if exc is not None and exc.meter_id is not None:
        out["meter_id"], out["manufacturer"] = exc.meter_id, exc.manufacturer
    return out


def decode_one(telegram_hex: str, key_hex: str | None, preceding: Iterable[str] = ()) -> dict[str, Any]:
    """Decode one telegram (after its preceding frames) into the CLI's JSON object."""
    try:
        keys = _lookup(key_hex)
        frame = bytes.fromhex(telegram_hex)
    except (ValueError, TypeError) as exc:
        return _failure(f"input: not hex: {exc}", "input")
    from decoders import CompactFormatCache, DecodeError, decode

    cache = CompactFormatCache()
    for earlier in preceding:
        try:
            decode(bytes.fromhex(earlier), keys, compact_formats=cache)
        except (DecodeError, ValueError, TypeError):
            continue  # a bad preceding frame only means nothing was learnt from it
    try:
        tg = decode(frame, keys, compact_formats=cache)
    except DecodeError as exc:
        text = str(exc)
        named = text.lower().startswith(exc.layer.lower())
        return _failure(text if named else f"{exc.layer}: {text}", exc.layer, exc)
    return {"ok": True, "error": None, **tg.to_json_dict()}


def _line_result(line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        return _failure(f"input: bad JSON line: {exc}", "input")
    if not isinstance(item, dict) or not isinstance(item.get("telegram"), str):
        return _failure("input: line must be an object with a 'telegram' hex string", "input")
    key = item.get("key")
    preceding = item.get("preceding") or []
    if (key is not None and not isinstance(key, str)) or not isinstance(preceding, list):
        return _failure("input: 'key' must be hex or null and 'preceding' a list", "input")
    return decode_one(item["telegram"], key, [p for p in preceding if isinstance(p, str)])


def run_jsonl(source: TextIO, sink: TextIO) -> None:
    """Decode every line of ``source`` into one JSON line on ``sink``."""
    for line in source:
        if not line.strip():
            continue
        sink.write(json.dumps(_line_result(line)) + "\n")
        sink.flush()


def register(app: typer.Typer) -> None:
    """Add the ``decode`` command to the CLI root."""

    @app.command("decode")
    def decode_command(
        telegram: str = typer.Argument(None, help="Telegram hex, starting at the L field."),
        key: str = typer.Option(None, "--key", help="AES key (hex) for this meter."),
        jsonl: str = typer.Option(None, "--jsonl", help="JSON-lines input file, or '-' for stdin."),
    ) -> None:
        """Decode wM-Bus telegrams to JSON."""
        if jsonl is not None:
            if jsonl == "-":
                run_jsonl(sys.stdin, sys.stdout)
            else:
                with open(jsonl, encoding="utf-8") as fh:
                    run_jsonl(fh, sys.stdout)
            return
        if not telegram:
            raise typer.BadParameter("give a telegram hex or --jsonl FILE")
        result = decode_one(telegram, key)
        typer.echo(json.dumps(result))
        if not result["ok"]:
            raise typer.Exit(1)
