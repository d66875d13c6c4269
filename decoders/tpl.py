"""Transport layer (EN 13757-7 TPL): none/short/long header, status byte, configuration word (§2.1–2.3).

Short header ``ACC STS CFG(2)``; long header ``ID(4) M(2) ver type ACC STS CFG(2)``; a CFG extension byte
follows for security modes 7 and 13. Security mode = CFG bits 12–8.
"""

from __future__ import annotations

from typing import NamedTuple

from decoders import tables, wire
from decoders.errors import TplError


class Tpl(NamedTuple):
    """Parsed TPL header. ``long_*`` fields are set only for long headers."""

    ci: int
    kind: str
    header: str
    acc: int | None
    status: int | None
    cfg: int
    cfg_ext: int | None
    security_mode: int
    payload_offset: int
    long_m: int | None = None
    long_id: bytes | None = None
    long_version: int | None = None
    long_type: int | None = None

    @property
    def encrypted_blocks(self) -> int:
        """N: number of encrypted 16-byte blocks (CFG bits 7–4, modes 5 and 7)."""
        return (self.cfg >> 4) & 0x0F


def parse(data: bytes, pos: int) -> Tpl:
    """Parse the TPL whose CI is at ``pos``."""
    ci = data[pos]
    kind_header = tables.ci_kind(ci)
    if kind_header is None:
        raise TplError(f"TPL CI 0x{ci:02x} not supported")
    kind, header = kind_header
    p = pos + 1
    n = len(data)
    if header == "none":
        return Tpl(ci, kind, header, None, None, 0, None, 0, p)
    if header == "short":
        if p + 4 > n:
            raise TplError(f"TPL short header: needs 4 bytes after CI 0x{ci:02x}, {n - p} left")
        acc, status, cfg = wire.TPL_SHORT_FAST.unpack_from(data, p)
        p += 4
        lm = lid = lv = lt = None
    else:
        if p + 12 > n:
            raise TplError(f"TPL long header: needs 12 bytes after CI 0x{ci:02x}, {n - p} left")
        lid, lm, lv, lt, acc, status, cfg = wire.TPL_LONG_FAST.unpack_from(data, p)
        p += 12
    mode = (cfg >> 8) & 0x1F
    ext = None
    if mode in (7, 13):
        if p >= n:
            raise TplError(f"TPL config word: mode {mode} needs a CFG extension byte")
        ext, p = data[p], p + 1
    return Tpl(ci, kind, header, acc, status, cfg, ext, mode, p, lm, lid, lv, lt)
