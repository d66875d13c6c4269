"""iU891A: SLIP framing, CRC, telegram messages (byte vectors, split reads, garbage) and the driver against the
pty simulator, including probing."""

from __future__ import annotations

import pytest

from hardware import iu891a as hci
from hardware import open_receiver
from hardware.base import Fault, Heard, Reply
from hardware.dll import add_format_a_crcs
from hardware.probe import probe
from hardware.sim.frames import OMS_EXAMPLE, synthetic_frame
from hardware.sim.iu891a import Iu891aSimulator


def test_slip_escapes_round_trip_and_crc_is_x25() -> None:
    message = bytes([0x01, 0xC0, 0xDB, 0x02])
    framed = hci.slip_encode(message)
    assert framed == bytes.fromhex("C001DBDCDBDD02C0")
    assert hci.slip_decode(framed[1:-1]) == message
    assert hci.slip_decode(bytes([0xDB, 0x01])) is None
    # the device-info request as the stick expects it: endpoint 01, msg 03, CRC-16/X.25 little endian
    request = hci.build(hci.EP_DEVMGMT, hci.GET_DEVICE_INFO_REQ)
    assert request[:3] == bytes.fromhex("C00103") and request[-1] == 0xC0
    assert hci.fcs(b"123456789") == 0x906E  # CRC-16/X.25 check value


def _indication(frame: bytes, rssi: int) -> bytes:
    return hci.seal(hci.telegram_message(frame, rssi))


@pytest.mark.parametrize("chunk", [1, 2, 5, 4096])
def test_framer_survives_garbage_split_reads_and_bad_crc(chunk: int) -> None:
    good = _indication(OMS_EXAMPLE, -71)
    bad = bytearray(_indication(OMS_EXAMPLE, -71))
    bad[-3] ^= 0xFF
    stream = b"\x12\x34" + good + bytes(bad) + b"\xc0\xc0\xc0" + good
    framer = hci.SlipFramer()
    events = []
    for i in range(0, len(stream), chunk):
        events += framer.feed(stream[i : i + chunk])
    heard = [e for e in events if isinstance(e, Heard)]
    assert [h.frame for h in heard] == [OMS_EXAMPLE, OMS_EXAMPLE]
    assert heard[0].rssi_dbm == -71.0
    assert any(isinstance(e, Fault) and e.kind == "crc" for e in events)
    reply = hci.SlipFramer().feed(hci.build(hci.EP_DEVMGMT, hci.GET_DEVICE_INFO_RSP, b"\x00\x91\x12"))
    assert reply == [Reply((hci.EP_DEVMGMT, hci.GET_DEVICE_INFO_RSP), b"\x00\x91\x12")]


def test_wrong_length_and_stalled_messages_are_faults() -> None:
    short = hci.seal(hci.telegram_message(OMS_EXAMPLE[:-1], -50))  # L says one byte more
    assert [e.kind for e in hci.SlipFramer().feed(short)] == ["framing"]  # type: ignore[union-attr]
    framer = hci.SlipFramer()
    assert framer.feed(b"\xc0\x09\x06\x00") == []
    assert [e.kind for e in framer.idle()] == ["framing"]  # type: ignore[union-attr]


def test_driver_against_simulator_init_frames_and_rssi() -> None:
    with Iu891aSimulator() as sim, open_receiver("iu891a", sim.port, link_mode="C1T1", source="t",
                                                 silence_reset_s=60) as rx:
        assert rx.wait_ready(5)
        assert sim.mode == 0x03 and sim.config[1:] == hci.CONFIG_TAIL
        assert sim.received.startswith(hci.WAKE_UP)
        frames = [synthetic_frame(10000001 + i, i) for i in range(5)]
        for i, f in enumerate(frames):
            assert sim.transmit(add_format_a_crcs(f) if i % 2 else f, rssi_dbm=-60 - i)
        got = [rx.get(5) for _ in frames]
        assert [g.payload for g in got if g] == frames
        assert [g.rssi_dbm for g in got if g] == [-60.0, -61.0, -62.0, -63.0, -64.0]
        assert rx.captured["device_info"][:2] == b"\x00\x91"


def test_link_mode_it_cannot_do_is_refused() -> None:
    from hardware.errors import UnsupportedLinkModeError

    with pytest.raises(UnsupportedLinkModeError):
        hci.Iu891aDriver().init_steps("R2")


def test_probe_finds_the_iu891a() -> None:
    with Iu891aSimulator() as sim:
        found = probe(sim.port, ("im871a", "iu891a"))
    assert found is not None and found.kind == "iu891a" and "0x91" in found.description


def test_auto_resolves_to_the_iu891a_and_reads() -> None:
    from hardware import resolve_kind

    with Iu891aSimulator() as sim:
        assert resolve_kind("auto", sim.port) == "iu891a"
        with open_receiver("auto", sim.port, link_mode="T1", source="t") as rx:
            assert rx.wait_ready(5) and sim.mode == 0x01
            assert sim.transmit(OMS_EXAMPLE, rssi_dbm=-90)
            got = rx.get(5)
            assert got is not None and got.payload == OMS_EXAMPLE and got.rssi_dbm == -90.0
