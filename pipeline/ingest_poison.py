"""Poison loops broken: a message that stopped the worker twice is quarantined, not redelivered forever.

The worker writes ahead, to a small append-only journal on local disk (a line per message entering a batch,
one write per committed batch listing the ones acknowledged), what it is processing. After a crash of any
kind — an exception that ends the process (pipeline/ingest_guard.py), ``kill -9``, the OOM killer — the next
start reads the journal: every message that was in hand gets one attempt more. A message with an attempt is a
*suspect*: it is parsed on its own, its digest marked as "current" first, so a suspect that stops the worker
again is named precisely and reaches :data:`QUARANTINE_AFTER` attempts; the worker then keeps it as a dead
letter (reason ``quarantined``) and acknowledges it. Its batch neighbours of the first crash have one attempt
and pass once the culprit is out. (A crash inside the commit itself names the whole batch; such a batch would be
quarantined whole on its second crash — kept as dead letters, never lost.)

The journal lives in ``$STATE_DIRECTORY`` (systemd's ``StateDirectory=``) or ``~/.local/state/odczyt``, one file
per worker client id; attempts are forgotten after :data:`FORGET_AFTER_S`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterable
from hashlib import blake2b
from pathlib import Path

QUARANTINE_AFTER = 2
FORGET_AFTER_S = 86_400.0
COMPACT_BYTES = 4 << 20


def default_journal_path(client_id: str) -> Path:
    """Where the worker ``client_id`` keeps its journal."""
    base = os.environ.get("STATE_DIRECTORY") or str(Path.home() / ".local" / "state" / "odczyt")
    return Path(base.split(":")[0]) / f"ingest-{re.sub(r'[^A-Za-z0-9_.-]', '_', client_id)}.journal"


def message_digest(payload: bytes) -> str:
    """The journal's name for a message: its payload's blake2b-8, in hex."""
    return blake2b(payload, digest_size=8).hexdigest()


class PoisonJournal:
    """The write-ahead journal of one worker (thread safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.attempts: dict[str, tuple[int, float]] = {}  # digest -> (attempts, last crash time)
        self._in_hand: set[str] = set()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._recover()
        self._file = open(path, "a", buffering=1, encoding="ascii")  # noqa: SIM115  # open for the worker's life

    def _recover(self) -> None:
        in_hand: set[str] = set()
        current: str | None = None
        now = time.time()
        if self.path.exists():
            for line in self.path.read_text(encoding="ascii", errors="replace").splitlines():
                kind, _, rest = line.partition(" ")
                if kind == "!":
                    digest, seen, at = rest.split()
                    self.attempts[digest] = (int(seen), float(at))
                elif kind == "+":
                    in_hand.add(rest)
                elif kind == "-":
                    in_hand.difference_update(rest.split())
                elif kind == ">":
                    current = rest
                elif kind == "<":
                    current = None
        for digest in [current] if current else in_hand:  # the culprit, when the crash named one
            count = self.attempts.get(digest, (0, 0.0))[0]
            self.attempts[digest] = (count + 1, now)
        self.attempts = {d: (c, at) for d, (c, at) in self.attempts.items() if now - at < FORGET_AFTER_S}
        self._rewrite()

    def _rewrite(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        lines = [f"! {d} {c} {at:.0f}\n" for d, (c, at) in self.attempts.items()]
        lines += [f"+ {d}\n" for d in self._in_hand]
        tmp.write_text("".join(lines), encoding="ascii")
        os.replace(tmp, self.path)

    def enter(self, payload: bytes) -> tuple[str, int]:
        """Note that a message enters processing; its digest and its attempts so far."""
        digest = message_digest(payload)
        with self._lock:
            self._in_hand.add(digest)
            self._file.write(f"+ {digest}\n")
            return digest, self.attempts.get(digest, (0, 0.0))[0]

    def current(self, digest: str | None) -> None:
        """Mark the suspect about to be parsed (``None``: it was parsed without harm)."""
        with self._lock:
            self._file.write(f"> {digest}\n" if digest else "<\n")

    def done(self, payloads: Iterable[bytes]) -> None:
        """The messages committed and acknowledged: no longer in hand."""
        digests = [message_digest(p) for p in payloads]
        with self._lock:
            self._in_hand.difference_update(digests)
            for d in digests:
                self.attempts.pop(d, None)
            self._file.write(f"- {' '.join(digests)}\n")
            if self._file.tell() > COMPACT_BYTES:
                self._file.close()
                self._rewrite()
                self._file = open(self.path, "a", buffering=1, encoding="ascii")  # noqa: SIM115

    def close(self) -> None:
        """Close the file (what is in hand stays recorded; a journal with nothing to say is removed)."""
        with self._lock:
            self._file.close()
            if not self.attempts and not self._in_hand:
                self.path.unlink(missing_ok=True)
