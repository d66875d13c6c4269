"""The ``decode`` command's contract: one JSON object for a hex argument, one line per JSONL input line."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from decoders import encoder as enc
from pipeline.commands.decode import register

KEY = bytes(range(16))


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keep "decode" as a sub-command
        pass

    return app


def test_decode_hex_with_key_prints_one_json_object() -> None:
    frame = enc.encode_oms(records=[enc.total_volume(2.5)], mode=5, key=KEY)
    result = CliRunner().invoke(_app(), ["decode", frame.hex(), "--key", KEY.hex()])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["ok"] is True
    assert out["total_m3"] == 2.5
    assert out["meter_id"] == "12345678"


def test_decode_jsonl_gives_one_line_per_input_line_in_order(tmp_path: Path) -> None:
    good = enc.encode_oms(records=[enc.total_volume(1.0)]).hex()
    keyed = enc.encode_oms(records=[enc.total_volume(3.0)], mode=5, key=KEY).hex()
    lines = [
        json.dumps({"telegram": good, "key": None, "preceding": []}),
        "this is not json",
        json.dumps({"telegram": keyed, "key": "00" * 16, "preceding": []}),
        json.dumps({"telegram": keyed, "key": KEY.hex(), "preceding": [good]}),
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(_app(), ["decode", "--jsonl", str(src)])
    assert result.exit_code == 0
    outs = [json.loads(line) for line in result.output.splitlines()]
    assert [o["ok"] for o in outs] == [True, False, False, True]
    assert outs[0]["total_m3"] == 1.0
    assert "input" in outs[1]["error"]
    assert "wrong key" in outs[2]["error"] and outs[2]["meter_id"] == "12345678"
    assert outs[3]["total_m3"] == 3.0
    assert isinstance(outs[3]["alarms"], list)


def test_decode_jsonl_from_stdin() -> None:
    line = json.dumps({"telegram": enc.encode_oms(records=[enc.total_volume(4.0)]).hex(), "key": None})
    result = CliRunner().invoke(_app(), ["decode", "--jsonl", "-"], input=line + "\n")
    assert result.exit_code == 0
    assert json.loads(result.output)["total_m3"] == 4.0
