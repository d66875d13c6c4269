"""Speed of the command users run: ``odczyt decode`` as a subprocess, start-up included.

Builds (with the project's encoder, ``decoders.encoder``) JSON-lines files of plaintext Sensus iPERL-like
telegrams (SEN v0x68 water, total and flow, 1,000 meters) and Apator AES telegrams (APA v0x01 water, as
Ultrimis, security mode 5, one key per meter), at 20,000 and 200,000 lines, then times
``odczyt decode --jsonl FILE`` and the start-up of ``odczyt decode HEX`` for one telegram. Runs are
interleaved (every scenario once per round); wall time (median and best of ``--rounds``) and CPU seconds of
the command and its workers are reported: the machine is shared, so a single run says little, and the ratio
uses the best (least disturbed) run.

``--wmbusmeters PATH`` also times a wmbusmeters binary on the same telegrams (a ``simulation_*.txt`` file of
``telegram=|HEX|`` lines, ``--format=json``) and prints odczyt's speed as a ratio of it. Without it the absolute
rates are printed next to the issue's reference figures for wmbusmeters 3.0 on this machine class (it cannot be
installed here: Debian 12 has no package and its sources cannot be fetched).

Last line: one JSON object with every figure. Run:
``.venv/bin/python benchmarks/decode_cli.py [--rounds 3] [--quick] [--jobs N] [--wmbusmeters PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from decoders import encoder as enc

ODCZYT = [str(Path(sys.executable).with_name("odczyt"))]
REFERENCE = {  # issue 18: wmbusmeters 3.0 built from source, this machine class, seconds
    "plain_20000": 0.64, "plain_200000": 5.7, "startup": 0.006, "aes_200000": 30.0,
}


def _key(i: int) -> bytes:
    return (i % 1000).to_bytes(4, "big") * 4


def _telegram(kind: str, i: int) -> tuple[str, str | None]:
    meter = f"{30000000 + i % 1000:08d}"
    records = [enc.total_volume(100 + i % 9973 / 1000), enc.flow((i % 50) / 100)]
    if kind == "plain":
        return enc.encode_oms("SEN", meter, 0x68, 0x07, i % 256, 0, records, frame_format="A").hex(), None
    key = _key(i)
    frame = enc.encode_oms("APA", meter, 0x01, 0x07, i % 256, 0, records, mode=5, key=key, frame_format="A")
    return frame.hex(), key.hex()


def build(directory: Path, kind: str, n: int) -> tuple[Path, Path]:
    """The JSON-lines file for odczyt and the simulation file for wmbusmeters, ``n`` telegrams of ``kind``."""
    jsonl, sim = directory / f"{kind}_{n}.jsonl", directory / f"simulation_{kind}_{n}.txt"
    distinct = [_telegram(kind, i) for i in range(min(n, 5000))]
    with jsonl.open("w") as out, sim.open("w") as wsim:
        for i in range(n):
            hex_, key = distinct[i % len(distinct)]
            out.write(json.dumps({"telegram": hex_, "key": key}) + "\n")
            wsim.write(f"telegram=|{hex_}|\n")
    return jsonl, sim


def _cpu() -> float:
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the command and its worker processes) of one run."""
    cpu, start = _cpu(), time.perf_counter()
    with open(os.devnull, "rb") as src:
        done = subprocess.run(cmd, stdin=src, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd[:3])}… failed ({done.returncode}): {done.stderr.decode()[-300:]}")
    return elapsed, _cpu() - cpu


def _wmbusmeters_cmd(binary: str, kind: str, sim: Path, n: int) -> list[str]:
    keys = [f"m{i}" for i in range(1)]
    key = "NOKEY" if kind == "plain" else _key(0).hex()
    driver = "iperl" if kind == "plain" else "auto"
    return [binary, "--format=json", "--silent", str(sim), keys[0], driver, "*", key]


def scenarios(directory: Path, sizes: list[int], jobs: int | None, wmb: str | None) -> dict[str, list[str]]:
    """Name → command line (odczyt's, and wmbusmeters' when a binary is given)."""
    extra = ["--jobs", str(jobs)] if jobs else []
    out: dict[str, list[str]] = {}
    for kind in ("plain", "aes"):
        for n in sizes:
            jsonl, sim = build(directory, kind, n)
            out[f"odczyt_{kind}_{n}"] = [*ODCZYT, "decode", "--jsonl", str(jsonl), *extra]
            if wmb:
                out[f"wmbusmeters_{kind}_{n}"] = _wmbusmeters_cmd(wmb, kind, sim, n)
    hex_one = _telegram("plain", 1)[0]
    out["odczyt_startup"] = [*ODCZYT, "decode", hex_one]
    if wmb:
        out["wmbusmeters_startup"] = [wmb, "--format=json", hex_one, "m", "iperl", "*", "NOKEY"]
    return out


def main() -> None:
    """Build the files, run the interleaved rounds, print the figures and the JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="20,000 lines only")
    ap.add_argument("--jobs", type=int, default=None, help="odczyt decode --jobs (default: its own, every core)")
    ap.add_argument("--wmbusmeters", metavar="PATH", help="a wmbusmeters binary to compare with")
    args = ap.parse_args()
    sizes = [20000] if args.quick else [20000, 200000]
    with tempfile.TemporaryDirectory(prefix="decode_cli_") as tmp:
        cmds = scenarios(Path(tmp), sizes, args.jobs, args.wmbusmeters)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cmds}
        load = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            for name, cmd in cmds.items():
                times[name].append(_timed(cmd))
            load.append(os.getloadavg()[0])
    medians = {name: statistics.median(w for w, _ in t) for name, t in times.items()}
    best = {name: min(w for w, _ in t) for name, t in times.items()}
    cpu = {name: statistics.median(c for _, c in t) for name, t in times.items()}
    summary: dict[str, object] = {"rounds": args.rounds, "cores": os.cpu_count(), "jobs": args.jobs,
                                  "load_1min": [round(x, 1) for x in load], "median_s": medians, "best_s": best,
                                  "cpu_s": cpu}
    for name, sec in medians.items():
        n = int(name.rsplit("_", 1)[1]) if name.rsplit("_", 1)[1].isdigit() else 1
        print(f"{name:24s} wall median {sec:7.3f} s, best {best[name]:7.3f} s ({n / best[name]:8.0f}/s), "
              f"CPU {cpu[name]:7.3f} s")
    print(f"load average during the runs: {load} on {os.cpu_count()} cores (medians on a shared machine)")
    estimate = _idle_estimate(cpu)
    for name, sec in estimate.items():
        print(f"{name:24s} estimate on an idle machine {sec:7.3f} s (CPU spread over the cores; not measured)")
    summary["idle_estimate_s"] = estimate
    ratios = _ratios(best, bool(args.wmbusmeters))
    for name, (ratio, basis) in ratios.items():
        print(f"{name:24s} odczyt (best run) at {ratio:5.2f}× wmbusmeters ({basis})")
    summary["ratio_vs_wmbusmeters"] = {k: round(v[0], 3) for k, v in ratios.items()}
    summary["ratio_basis"] = "measured" if args.wmbusmeters else "issue 18 reference figures (not measured here)"
    print(json.dumps(summary))


def _idle_estimate(cpu: dict[str, float]) -> dict[str, float]:
    """Wall time the CPU seconds would take with every core free: start-up on one core, the rest spread."""
    start = cpu.get("odczyt_startup", 0.0)
    cores = os.cpu_count() or 1
    return {name: round(start + max(0.0, sec - start) / cores, 3) for name, sec in cpu.items()
            if name.startswith("odczyt_") and name != "odczyt_startup"}


def _ratios(medians: dict[str, float], measured: bool) -> dict[str, tuple[float, str]]:
    out: dict[str, tuple[float, str]] = {}
    for name, sec in medians.items():
        if not name.startswith("odczyt_"):
            continue
        scenario = name.removeprefix("odczyt_")
        if measured and f"wmbusmeters_{scenario}" in medians:
            out[scenario] = (medians[f"wmbusmeters_{scenario}"] / sec, "measured side by side")
        elif scenario in REFERENCE:
            out[scenario] = (REFERENCE[scenario] / sec, "issue's reference figure")
    return out


if __name__ == "__main__":
    main()
