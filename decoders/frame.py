"""The decoded-but-not-interpreted frame handed to meter drivers (internal to the decoder)."""

from __future__ import annotations

from typing import NamedTuple

from decoders.link import LinkFrame
from decoders.model import Record
from decoders.tpl import Tpl


class Frame(NamedTuple):
    """Everything the layers below the driver found.

    ``data`` is the CRC-free frame starting at L (ELL payload already decrypted); ``payload`` the
    application data after the TPL header, decrypted (for manufacturer CIs: everything after the CI);
    ``keys`` the candidate keys offered for this meter (drivers with proprietary crypto use them).
    """

    data: bytes
    link: LinkFrame
    ci: int
    ci_offset: int
    manufacturer: str
    meter_id: str
    version: int
    device_type: int
    tpl: Tpl | None
    payload: bytes
    records: tuple[Record, ...]
    manufacturer_data: bytes | None
    keys: tuple[bytes, ...]

    @property
    def status(self) -> int | None:
        """The TPL status byte, if the frame has a TPL header."""
        return self.tpl.status if self.tpl else None

    @property
    def access_number(self) -> int | None:
        """The TPL access number, if any."""
        return self.tpl.acc if self.tpl else None
