"""The decoder's exception tree: one root (:class:`DecodeError`) and one subclass per protocol layer.

Every failure to decode a frame — whatever the input bytes — surfaces as a :class:`DecodeError`; the
``layer`` attribute names where it happened and the message says what was wrong there.
"""

from __future__ import annotations

from core.errors import OdczytError


class DecodeError(OdczytError):
    """A frame could not be decoded; ``layer`` names the protocol layer that rejected it."""

    layer = "decoder"
    meter_id: str | None = None
    manufacturer: str | None = None

    def __init__(self, message: str, *, layer: str | None = None) -> None:
        if layer is not None:
            self.layer = layer
        super().__init__(message)

    def identify(self, manufacturer: str, meter_id: str) -> None:
        """Record which meter the failing frame came from (when the link layer got that far)."""
        if self.meter_id is None:
            self.manufacturer, self.meter_id = manufacturer, meter_id


class LinkLayerError(DecodeError):
    """Data link layer: length, CRC, C/M/A fields."""

    layer = "link"


class EllError(DecodeError):
    """Extended link layer (CI 0x8C–0x8F, 0x86)."""

    layer = "ELL"


class AflError(DecodeError):
    """Authentication and fragmentation layer (CI 0x90), including MAC failures."""

    layer = "AFL"


class TplError(DecodeError):
    """Transport layer: CI, header, configuration word."""

    layer = "TPL"


class SecurityError(DecodeError):
    """Decryption could not be carried out (unsupported mode, bad ciphertext length …)."""

    layer = "security"


class KeyMissingError(SecurityError):
    """The payload is encrypted and no key was offered for this meter."""


class WrongKeyError(SecurityError):
    """Every offered key failed the layer's check (2F2F, payload CRC or MAC)."""


class ApplicationError(DecodeError):
    """Application layer: DIF/VIF records, compact frames."""

    layer = "APL"


class CompactFormatUnknownError(ApplicationError):
    """A compact frame (CI 0x79) refers to a format signature not seen in an earlier full frame."""


class DriverError(DecodeError):
    """A meter driver could not interpret a (proprietary) payload."""

    layer = "driver"


class InputError(DecodeError):
    """The text given as a frame is not a hex frame (see :func:`decoders.hexinput.frame_from_hex`)."""

    layer = "input"
