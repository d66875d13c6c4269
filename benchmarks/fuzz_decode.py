"""Fuzz the decoder: random bytes and mutated valid frames (bit flips, truncation, length lies, spliced
bytes) must only ever raise DecodeError subclasses — never another exception, never hang.

Run: ``.venv/bin/python benchmarks/fuzz_decode.py [--count 1000000] [--seed 1]``. Prints progress, the count
and, last, one JSON object. Exit status 1 if any input raised something else or an ``internal`` DecodeError.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter

from decoders import CompactFormatCache, DecodeError, decode, static_keys
from decoders import encoder as enc
from decoders.drivers import ALL_DRIVERS

KEY = bytes(range(16))


def _seeds() -> list[bytes]:
    recs = [enc.total_volume(1.5), enc.billing_volume(1.0), enc.error_flags(3), enc.flow(0.1)]
    seeds = [bytes.fromhex(c.hex) for d in ALL_DRIVERS for c in d.cases()]
    for mode in (0, 5, 7):
        for ff in ("A", "B", "none"):
            seeds.append(enc.encode_oms(records=recs, mode=mode, key=KEY if mode else None, frame_format=ff))
    seeds.append(enc.encode_oms("KAM", records=recs, ell="II", key=KEY, device_type=0x16))
    return seeds


def _mutate(rng: random.Random, frame: bytes) -> bytes:
    b = bytearray(frame)
    op = rng.randrange(6)
    if op == 0 and b:
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif op == 1 and b:
        del b[rng.randrange(len(b)) :]
    elif op == 2 and b:
        b[0] = rng.randrange(256)  # length lie
    elif op == 3 and b:
        i = rng.randrange(len(b))
        b[i:i] = rng.randbytes(rng.randint(1, 8))
    elif op == 4 and len(b) > 11:
        b[rng.randrange(10, len(b))] = rng.choice((0x72, 0x7A, 0x78, 0x79, 0x8C, 0x8D, 0x90, 0xA0, 0xA2, 0x2F, 0x0F))
    else:
        b = bytearray(rng.randbytes(rng.randint(0, 80)))
    return bytes(b)


def main() -> int:
    """Run the fuzz loop and report."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    seeds = _seeds()
    keys = static_keys({"12345678": KEY})
    cache = CompactFormatCache()
    layers: Counter[str] = Counter()
    bad: list[str] = []
    ok = 0
    start = time.perf_counter()
    for n in range(args.count):
        frame = _mutate(rng, rng.choice(seeds)) if n % 4 else rng.randbytes(rng.randint(0, 120))
        try:
            decode(frame, keys, compact_formats=cache)
            ok += 1
        except DecodeError as exc:
            layers[exc.layer] += 1
            if exc.layer == "internal" and len(bad) < 20:
                bad.append(f"{frame.hex()}: {exc}")
        except Exception as exc:
            if len(bad) < 20:
                bad.append(f"{frame.hex()}: {type(exc).__name__}: {exc}")
            layers["FOREIGN"] += 1
        if n and n % 200_000 == 0:
            print(f"{n:,} inputs, {time.perf_counter() - start:.0f} s")
    for line in bad:
        print("BAD", line)
    elapsed = time.perf_counter() - start
    print(f"fuzzed {args.count:,} inputs in {elapsed:.0f} s: {ok:,} decoded, errors by layer {dict(layers)}")
    failures = layers["FOREIGN"] + layers["internal"]
    print(
        json.dumps(
            {
                "inputs": args.count,
                "decoded": ok,
                "errors_by_layer": dict(layers),
                "foreign_or_internal": failures,
                "seconds": round(elapsed, 1),
            }
        )
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
