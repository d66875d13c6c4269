"""``odczyt decode`` as users run it: the fast start-up path, the process pool, output formats, mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from decoders import encoder as enc
from pipeline.cli import run

KEY = bytes(range(16))
ODCZYT = str(Path(sys.executable).with_name("odczyt"))


def _plain(meter: str = "12345678", m3: float = 1.5) -> str:
    return enc.encode_oms("SEN", meter, 0x68, 0x07, 1, 0, [enc.total_volume(m3), enc.flow(0.25)]).hex()


def _odczyt(*args: str, stdin: str | None = None, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *extra, ODCZYT, *args], input=stdin, capture_output=True, text=True,
                          timeout=60, check=False)


def test_decode_hex_starts_without_typer_database_driver_or_settings() -> None:
    done = _odczyt("decode", _plain(), extra=("-X", "importtime"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_m3"] == 1.5
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time")}
    assert "decoders" in imported
    assert not imported & {"typer", "psycopg", "pydantic", "pydantic_settings", "pipeline.commands.db"}


def test_help_still_lists_every_command_and_decode_help_goes_through_typer() -> None:
    listing = _odczyt("--help")
    assert listing.returncode == 0
    for name in ("decode", "ingest", "db", "meters", "receivers"):
        assert name in listing.stdout
    help_ = _odczyt("decode", "--help")
    assert help_.returncode == 0 and "--wmbusmeters-json" in help_.stdout and "--jobs" in help_.stdout


def _lines(n: int) -> list[str]:
    out = []
    for i in range(n):
        if i % 97 == 5:
            out.append("not json at all")
        elif i % 89 == 7:
            frame = enc.encode_oms("APA", f"{i:08d}", 0x01, 0x07, 1, 0, [enc.total_volume(i / 10)], mode=5, key=KEY)
            out.append(json.dumps({"telegram": frame.hex(), "key": KEY.hex()}))
        else:
            out.append(json.dumps({"telegram": _plain(f"{i:08d}", i / 1000), "key": None}))
    return out


def test_pool_keeps_input_order_and_equals_one_process(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(_lines(4500)) + "\n")  # more than SMALL_INPUT: the pool is used
    one = _odczyt("decode", "--jsonl", str(src), "--jobs", "1")
    pool = _odczyt("decode", "--jsonl", str(src), "--jobs", "2")
    assert one.returncode == pool.returncode == 0, pool.stderr
    assert one.stdout == pool.stdout
    outs = [json.loads(line) for line in pool.stdout.splitlines()]
    assert len(outs) == 4500
    assert outs[5]["ok"] is False and "bad JSON" in outs[5]["error"]
    assert outs[7]["ok"] is True and outs[7]["total_m3"] == 0.7 and outs[7]["meter_id"] == "00000007"
    assert outs[4499]["meter_id"] == "00004499" and outs[4499]["total_m3"] == 4.499
    array = _odczyt("decode", "--jsonl", str(src), "--jobs", "2", "--format", "json")
    assert json.loads(array.stdout) == outs  # one valid array across the pool's chunks


def test_records_only_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["decode", _plain()]) == 0
    assert "records" not in json.loads(capsys.readouterr().out)
    assert run(["decode", _plain(), "--records"]) == 0
    records = json.loads(capsys.readouterr().out)["records"]
    assert [r["quantity"] for r in records][:1] == ["volume"] and records[0]["value"] == 1.5


def test_formats_fields_and_wmbusmeters_names(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"telegram": _plain("11112222", 3.25)}) + "\nnope\n")
    fields = _odczyt("decode", "--jsonl", str(src), "--format", "fields", "--fields", "meter_id,total_m3,error")
    assert fields.stdout.splitlines()[0] == "11112222;3.25;"
    assert fields.stdout.splitlines()[1].startswith(";;input: bad JSON line")
    array = json.loads(_odczyt("decode", "--jsonl", str(src), "--format", "json").stdout)
    assert [o["ok"] for o in array] == [True, False]
    wmb = json.loads(_odczyt("decode", _plain("11112222", 3.25), "--wmbusmeters-json").stdout)
    assert wmb["_"] == "telegram" and wmb["id"] == "11112222" and wmb["meter"] == "iperl"
    assert wmb["media"] == "water" and wmb["total_m3"] == 3.25 and wmb["current_status"] == "OK"
    assert wmb["timestamp"].endswith("Z") and wmb["flow_m3h"] == 0.25
    human = _odczyt("decode", _plain("11112222", 3.25), "--format", "human").stdout.strip()
    assert human.split("\t")[:4] == ["11112222", "iperl", "3.250 m³", "OK"]
    only = json.loads(_odczyt("decode", _plain(), "--fields", "meter_id,total_m3").stdout)
    assert only == {"meter_id": "12345678", "total_m3": 1.5}


@pytest.mark.parametrize(("args", "message"), [
    (["decode", "00", "--format", "xml"], "--format"),
    (["decode", "--jsonl", "-", "--jobs", "0"], "--jobs 0 must be 1 or more"),
    (["decode", "00", "--key", "xyz"], "is not hex"),
    (["decode", "00", "--jsonl", "x.jsonl"], "not both"),
    (["decode"], "give a telegram hex or --jsonl FILE"),
])
def test_mistakes_are_one_line_and_exit_2_on_both_paths(args: list[str], message: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args) == 2
    assert message in capsys.readouterr().err
    done = _odczyt(*args)
    assert done.returncode == 2
    assert done.stderr.startswith("odczyt: error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_undecodable_telegram_prints_the_error_and_exits_1() -> None:
    done = _odczyt("decode", "zz")
    assert done.returncode == 1
    assert json.loads(done.stdout)["error_layer"] == "input"


def test_analyze_lists_drivers_and_exits_0_when_one_decodes() -> None:
    done = _odczyt("decode", _plain(), "--analyze")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["drivers"][0]["driver"] == "iperl" and report["auto"]["driver"] == "iperl"
    bad = _odczyt("decode", "zz", "--analyze")
    assert bad.returncode == 2 and bad.stderr.startswith("odczyt: error: input:")


def test_pool_without_a_file_descriptor_returns_results_through_the_parent() -> None:
    import io

    from pipeline.commands.decode import Options, run_jsonl

    lines = _lines(2600)
    src, sink = io.BytesIO(("\n".join(lines) + "\n").encode()), io.BytesIO()
    run_jsonl(src, sink, Options(jobs=2, fmt="json", fields=("meter_id", "ok")))
    items = json.loads(sink.getvalue())
    assert len(items) == 2600 and items[2599] == {"meter_id": "00002599", "ok": True}
    assert items[5] == {"meter_id": None, "ok": False}
