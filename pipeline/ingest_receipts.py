"""Storage receipts: after a batch committed, each gateway is told which of its spool ranges are stored.

A gateway that asks for receipts writes ``"spool": ID, "seq": [first, last]`` right after ``gateway`` in its
frame messages (:func:`core.wire.encode_frames`). After the commit (and the MQTT acks) the worker publishes, per
gateway and spool, ``{"v": 1, "gateway": G, "spool": ID, "ranges": [[first, last], …]}`` on
``{prefix}/receipts/{G}`` (QoS 1). Every message of the batch counts, dead letters included: they are stored.
The gateway deletes a frame from its spool only on a receipt, never on the broker's PUBACK (docs/mqtt-format.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

# the canonical head the collectors write; anything else simply gets no receipt (and is re-sent, harmlessly)
_HEAD = re.compile(rb'\{"v":\s?1,\s?"gateway":\s?"([A-Za-z0-9_.:-]{1,128})",\s?"spool":\s?"([A-Za-z0-9_-]{1,64})",'
                   rb'\s?"seq":\s?\[(\d{1,19}),\s?(\d{1,19})\]').match


def receipt_key(payload: bytes) -> tuple[str, str, int, int] | None:
    """``(gateway, spool, first, last)`` of a message that asks for a receipt, else None."""
    found = _HEAD(payload[:400])
    if found is None:
        return None
    return found[1].decode(), found[2].decode(), int(found[3]), int(found[4])


def receipts(payloads: Iterable[bytes], prefix: str) -> list[tuple[str, bytes]]:
    """The ``(topic, payload)`` receipts for the messages of one committed batch."""
    ranges: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for payload in payloads:
        key = receipt_key(payload)
        if key is not None:
            ranges.setdefault((key[0], key[1]), []).append((key[2], key[3]))
    return [(f"{prefix}/receipts/{gateway}",
             json.dumps({"v": 1, "gateway": gateway, "spool": spool, "ranges": sorted(set(found))},
                        separators=(",", ":")).encode())
            for (gateway, spool), found in ranges.items()]
