"""``odczyt decode``: decode wM-Bus telegrams given as hex, one at a time or as a JSON-lines stream.

* ``odczyt decode HEX [--key HEX]`` prints one JSON object (exit 1 when it does not decode).
* ``odczyt decode --jsonl FILE|-`` reads lines ``{"telegram": HEX, "key": HEX|null, "preceding": [HEX…]}``
  and writes one line per input line, in order, each with ``ok`` and ``error``; failures never stop the stream
  (exit code 0). Inputs of more than ``SMALL_INPUT`` lines are decoded by ``--jobs`` processes (default: every
  core) over blocks of lines (the parent only cuts the input at line ends), output order kept; ``--jobs 1``
  answers line by line (a co-process on stdin).
* ``--records`` adds the per-record list; ``--format json|jsonl|fields|human``, ``--fields a,b,c`` and
  ``--wmbusmeters-json`` (wmbusmeters' field names) shape the output (``decoders.jsonout``).
* ``odczyt decode --analyze HEX [--key HEX]`` lists every driver that could decode the telegram and what each
  gives (``decoders.analyze``).

Start-up matters (people run it once per telegram): ``pipeline.cli.main`` sends ``odczyt decode …`` straight
to :func:`fast_main` (argparse, no typer, no settings, no database driver); ``odczyt --help`` and in-process
``run()`` use the typer command registered by :func:`register`. Both build the same :class:`Options`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, NamedTuple

from core.errors import UserError

if TYPE_CHECKING:
    import typer

    from decoders import DecodeError, KeyLookup, Telegram

FORMATS = ("json", "jsonl", "fields", "human")
SMALL_INPUT = 2000  # lines: below this one process is faster than starting a pool (pipeline/decode_pool.py)


class Options(NamedTuple):
    """What one ``odczyt decode`` run was asked to do."""

    telegram: str | None = None
    key: str | None = None
    jsonl: str | None = None
    jobs: int | None = None
    records: bool = False
    fmt: str | None = None
    fields: tuple[str, ...] = ()
    wmbusmeters_json: bool = False
    analyze: bool = False


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


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class LineDecoder:
    """Decodes telegrams and JSON lines for one run: imports the decoder once and keeps each key's AES
    contexts between lines (a speed-up only: every line still starts with an empty compact-format cache,
    so a line decodes exactly as it would alone, after its own ``preceding`` frames)."""

    def __init__(self, opts: Options = Options()) -> None:
        from decoders import CipherCache, CompactFormatCache, DecodeError, Decoder, decode, frame_from_hex
        from decoders.jsonout import telegram_dict, wmbusmeters_dict

        self.opts = opts
        self._types = (CipherCache, CompactFormatCache, Decoder, DecodeError)
        self._from_hex, self._decode_one = frame_from_hex, decode
        self._shape = telegram_dict, wmbusmeters_dict
        self._keys: dict[str | None, tuple[KeyLookup | None, Any]] = {}

    def _keyed(self, key_hex: str | None) -> tuple[KeyLookup | None, Any]:
        known = self._keys.get(key_hex)
        if known is None:
            known = self._keys[key_hex] = (_lookup(key_hex), self._types[0]())
        return known

    def _decode(self, key_hex: str | None, telegram_hex: str, preceding: Sequence[str]) -> Telegram:
        """Without preceding frames no compact-format cache at all (nothing to learn from; the shipped known
        formats still apply); with them, a fresh cache that only they teach."""
        keys, ciphers = self._keyed(key_hex)
        if not preceding:
            return self._decode_one(self._frame(telegram_hex), keys, ciphers=ciphers)
        decoder = self._types[2](keys, compact_formats=self._types[1](), ciphers=ciphers)
        for earlier in preceding:
            with contextlib.suppress(self._types[3]):  # a bad preceding frame only means nothing was learnt
                decoder.decode(self._frame(earlier))
        return decoder.decode(self._frame(telegram_hex))

    def _frame(self, text: str) -> bytes:
        try:
            frame = bytes.fromhex(text)  # the common case; frame_from_hex for leniency and its errors
        except ValueError:
            return self._from_hex(text)
        return frame or self._from_hex(text)

    def telegram(self, telegram_hex: str, key_hex: str | None, preceding: Iterable[str] = ()) -> dict[str, Any]:
        """One telegram (after its preceding frames) as the CLI's JSON object."""
        error_type = self._types[3]
        try:
            self._keyed(key_hex)
        except (ValueError, TypeError) as exc:
            return _failure(f"input: key is not hex: {exc}", "input")
        try:
            tg = self._decode(key_hex, telegram_hex, list(preceding))
        except error_type as exc:
            text = str(exc)
            named = text.lower().startswith(exc.layer.lower())
            return _failure(text if named else f"{exc.layer}: {text}", exc.layer, exc)
        if self.opts.wmbusmeters_json:
            return self._shape[1](tg, _timestamp())
        return {"ok": True, "error": None, **self._shape[0](tg, records=self.opts.records)}

    def line(self, line: str | bytes) -> dict[str, Any]:
        """One JSON input line as the CLI's JSON object (input mistakes become ``ok: false`` objects)."""
        try:
            item = _loads(line)
        except ValueError as exc:
            return _failure(f"input: bad JSON line: {exc}", "input")
        if not isinstance(item, dict) or not isinstance(item.get("telegram"), str):
            return _failure("input: line must be an object with a 'telegram' hex string", "input")
        key = item.get("key")
        preceding = item.get("preceding") or ()
        if (key is not None and not isinstance(key, str)) or not isinstance(preceding, list | tuple):
            return _failure("input: 'key' must be hex or null and 'preceding' a list", "input")
        return self.telegram(item["telegram"], key, [p for p in preceding if isinstance(p, str)])


def _loads(line: str | bytes) -> Any:
    import orjson  # here and in render: a single telegram's start-up does without it

    return orjson.loads(line)


def decode_one(telegram_hex: str, key_hex: str | None, preceding: Iterable[str] = (),
               opts: Options = Options()) -> dict[str, Any]:
    """Decode one telegram (after its preceding frames) into the CLI's JSON object."""
    return LineDecoder(opts).telegram(telegram_hex, key_hex, preceding)


def render(obj: dict[str, Any], opts: Options, *, stream: bool) -> bytes:
    """One output item in the asked format (no trailing newline); ``stream`` items are compact JSON."""
    fmt = opts.fmt
    if fmt is None or fmt == "jsonl" or fmt == "json":
        if opts.fields:
            from decoders.jsonout import select

            obj = select(obj, opts.fields)
        if stream:
            import orjson

            return orjson.dumps(obj)
        import json

        return json.dumps(obj, indent=2 if fmt == "json" else None, ensure_ascii=False).encode()
    from decoders import jsonout

    if fmt == "human":
        return jsonout.human_line(obj).encode()
    default = jsonout.DEFAULT_WMBUSMETERS_FIELDS if opts.wmbusmeters_json else jsonout.DEFAULT_FIELDS
    return jsonout.fields_line(obj, opts.fields or default).encode()


def decode_lines(lines: Sequence[bytes], decoder: LineDecoder) -> bytes:
    """Decode a chunk of JSON lines into output items (one per non-blank line) joined by the format's
    separator, without a trailing one (:class:`_Writer` puts them between chunks)."""
    opts = decoder.opts
    out = [render(decoder.line(line), opts, stream=True) for line in lines if line.strip()]
    return (b",\n" if opts.fmt == "json" else b"\n").join(out)


class _Writer:
    """Writes chunks of items: newline-ended lines, or the items of one JSON array."""

    def __init__(self, sink: BinaryIO, array: bool) -> None:
        self.sink, self.array, self.started = sink, array, False
        if array:
            sink.write(b"[\n")

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self.array:
            self.sink.write(b",\n" + chunk if self.started else chunk)
        else:
            self.sink.write(chunk + b"\n")
        self.started = True

    def close(self) -> None:
        if self.array:
            self.sink.write(b"\n]\n" if self.started else b"]\n")
        self.sink.flush()


def run_jsonl(source: BinaryIO, sink: BinaryIO, opts: Options = Options()) -> None:
    """Decode every line of ``source`` into one output line on ``sink`` (see the module docstring)."""
    jobs = opts.jobs or os.cpu_count() or 1
    decoder = LineDecoder(opts)
    _quiet_gc()
    out = _Writer(sink, opts.fmt == "json")
    if jobs == 1:
        for line in source:
            out.write(decode_lines([line], decoder))
            sink.flush()
    else:
        from pipeline.decode_pool import BLOCK, run_pool

        first = source.read(BLOCK)
        if len(first) < BLOCK and first.count(b"\n") < SMALL_INPUT:  # all of it, and little
            out.write(decode_lines(first.splitlines(), decoder))
        elif run_pool(source, first, sink, out.write, opts, jobs):
            out.started = True  # the workers wrote items straight to the sink
    out.close()


def _quiet_gc() -> None:
    """Move the import-time objects (the decoder's tables: tens of thousands) out of the collector's sight and
    collect less often: a stream allocates many short-lived dicts and full collections re-scanned the tables."""
    import gc

    gc.freeze()
    gc.set_threshold(20_000, 50, 100)


def _check(opts: Options) -> None:
    if opts.fmt is not None and opts.fmt not in FORMATS:
        raise UserError(f"--format {opts.fmt!r} is not one of {', '.join(FORMATS)}")
    if opts.jobs is not None and opts.jobs < 1:
        raise UserError(f"--jobs {opts.jobs} must be 1 or more")
    if opts.jsonl is None and not opts.telegram:
        raise UserError("give a telegram hex or --jsonl FILE")
    if opts.jsonl is not None and (opts.telegram or opts.analyze):
        raise UserError("give either a telegram hex (with --analyze) or --jsonl FILE, not both")
    if opts.key is not None:
        try:
            bytes.fromhex(opts.key)
        except ValueError:
            raise UserError(f"--key {opts.key[:40]!r} is not hex: give the meter's AES key as 32 hex digits") from None


def execute(opts: Options, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Run ``odczyt decode`` with ``opts``; returns the exit code (1 when a single telegram does not decode)."""
    _check(opts)
    if opts.jsonl is not None:
        if opts.jsonl == "-":
            run_jsonl(stdin, stdout, opts)
        else:
            with open(opts.jsonl, "rb") as fh:
                run_jsonl(fh, stdout, opts)
        return 0
    assert opts.telegram is not None
    if opts.analyze:
        from decoders.analyze import analyze

        report = analyze(opts.telegram, bytes.fromhex(opts.key) if opts.key else None)
        stdout.write(render(report, opts._replace(fmt="json", fields=()), stream=False) + b"\n")
        return 0 if any(r["ok"] for r in report["drivers"]) else 1
    result = decode_one(opts.telegram, opts.key, (), opts)
    stdout.write(render(result, opts, stream=False) + b"\n")
    stdout.flush()
    return 0 if result.get("ok", True) else 1


def _parse_fields(text: str | None) -> tuple[str, ...]:
    return tuple(f.strip() for f in text.split(",") if f.strip()) if text else ()


def fast_main(args: list[str]) -> int:
    """``odczyt decode ARGS`` without typer (start-up); the same options as the typer command."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> Any:  # one line, exit 2, through pipeline.cli's handler
            raise UserError(f"{message} (see 'odczyt decode --help')")

    p = _Parser(prog="odczyt decode", add_help=False)
    p.add_argument("telegram", nargs="?")
    p.add_argument("--key")
    p.add_argument("--jsonl")
    p.add_argument("--jobs", type=int)
    p.add_argument("--records", action="store_true")
    p.add_argument("--format", dest="fmt")
    p.add_argument("--fields")
    p.add_argument("--wmbusmeters-json", action="store_true")
    p.add_argument("--analyze", action="store_true")
    ns = p.parse_args(args)
    opts = Options(ns.telegram, ns.key, ns.jsonl, ns.jobs, ns.records, ns.fmt, _parse_fields(ns.fields),
                   ns.wmbusmeters_json, ns.analyze)
    return execute(opts, sys.stdin.buffer, sys.stdout.buffer)


def register(app: typer.Typer) -> None:
    """Add the ``decode`` command to the CLI root."""
    import typer

    @app.command("decode")
    def decode_command(
        telegram: str = typer.Argument(None, help="Telegram hex, starting at the L field."),
        key: str = typer.Option(None, "--key", help="AES key (hex) for this meter."),
        jsonl: str = typer.Option(None, "--jsonl", help="JSON-lines input file, or '-' for stdin."),
        jobs: int = typer.Option(None, "--jobs", help="Processes for --jsonl (default: every core)."),
        records: bool = typer.Option(False, "--records", help="Include the per-record list."),
        fmt: Literal["json", "jsonl", "fields", "human"] = typer.Option(
            None, "--format", help="json (indented; an array for --jsonl), jsonl (default), fields (;), human."),
        fields: str = typer.Option(None, "--fields", help="Comma-separated keys to print (e.g. meter_id,total_m3)."),
        wmbusmeters_json: bool = typer.Option(False, "--wmbusmeters-json", help="wmbusmeters' field names."),
        analyze: bool = typer.Option(False, "--analyze", help="List every driver that could decode HEX."),
    ) -> None:
        """Decode wM-Bus telegrams to JSON (or fields / human lines)."""
        opts = Options(telegram, key, jsonl, jobs, records, fmt, _parse_fields(fields), wmbusmeters_json, analyze)
        code = execute(opts, _binary(sys.stdin), _binary(sys.stdout))
        if code:
            raise typer.Exit(code)


def _binary(stream: Any) -> BinaryIO:
    """The byte stream under a text stream (typer's test runner gives one too)."""
    binary: BinaryIO = stream.buffer if hasattr(stream, "buffer") else stream
    return binary
