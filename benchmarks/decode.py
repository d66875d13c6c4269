"""Decoder throughput on one core: telegrams/s for plaintext OMS, mode 5, mode 7, ELL (AES-CTR) and a mix of
all driver test cases. Prints one line per scenario and, last, one JSON object with the figures.

Each scenario runs ``--rounds`` timed rounds through one :class:`decoders.Decoder` (reused caches, as a pipeline
worker holds them) and reports the best round: on a shared machine the best round is the least disturbed.

``--cpu-time`` counts this thread's CPU time instead of wall time: on a machine shared with other jobs it
measures the decoder rather than the scheduler (same figure on an idle machine).

Run: ``.venv/bin/python benchmarks/decode.py [--seconds 2] [--rounds 5] [--quick] [--cpu-time]``
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime

from decoders import Decoder, KeyLookup, decode, static_keys
from decoders import encoder as enc
from decoders.drivers import ALL_DRIVERS

KEY = bytes(range(16))
RECORDS = [
    enc.total_volume(123.456),
    enc.billing_volume(120.0),
    enc.billing_date(date(2025, 12, 31)),
    enc.error_flags(0),
    enc.date_time(datetime(2026, 1, 15, 8, 30)),
]


def _frames() -> dict[str, tuple[list[bytes], KeyLookup | None]]:
    keys = static_keys({"12345678": KEY})
    plain = enc.encode_oms("APA", "12345678", 1, 7, 1, 0, RECORDS, frame_format="A")
    mode5 = enc.encode_oms("APA", "12345678", 1, 7, 2, 0, RECORDS, mode=5, key=KEY, frame_format="A")
    mode7 = enc.encode_oms("APA", "12345678", 1, 7, 3, 0, RECORDS, mode=7, key=KEY, frame_format="A")
    ctr = enc.encode_oms("KAM", "12345678", 0x1B, 0x16, 4, 0, RECORDS[:3], ell="II", key=KEY, frame_format="B")
    mix: list[bytes] = []
    for d in ALL_DRIVERS:
        for c in d.cases():
            if not c.key and not c.preceding:
                mix.append(bytes.fromhex(c.hex))
    return {
        "plaintext": ([plain], None),
        "mode5": ([mode5], keys),
        "mode7": ([mode7], keys),
        "ell_ctr": ([ctr], keys),
        "driver_mix": (mix, None),
    }


def _rate(
    frames: Sequence[bytes], keys: KeyLookup | None, seconds: float, rounds: int, clock: Callable[[], float]
) -> float:
    run: Callable[[bytes], object] = Decoder(keys).decode
    return max(_round(run, frames, seconds / rounds, clock) for _ in range(rounds))


def _round(
    run: Callable[[bytes], object], frames: Sequence[bytes], seconds: float, clock: Callable[[], float]
) -> float:
    n = 0
    start = clock()
    deadline = start + seconds
    while True:
        for f in frames:
            run(f)
        n += len(frames)
        now = clock()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    """Measure every scenario and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0, help="time per scenario")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds per scenario; the best counts")
    ap.add_argument("--quick", action="store_true", help="0.5 s per scenario (a smoke run)")
    ap.add_argument("--cpu-time", action="store_true", help="time with this thread's CPU clock, not wall time")
    args = ap.parse_args()
    if args.quick:
        args.seconds = 0.5
    figures: dict[str, float] = {}
    for name, (frames, keys) in _frames().items():
        for f in frames:  # every frame must decode before we time it
            decode(f, keys)
        clock = time.thread_time if args.cpu_time else time.perf_counter
        figures[name] = round(_rate(frames, keys, args.seconds, max(1, args.rounds), clock))
        print(f"{name:12s} {figures[name]:>10,d} telegrams/s")
    print(json.dumps({"telegrams_per_second": figures}))


if __name__ == "__main__":
    main()
