"""Amber, CUL, RC1180, rtl-wmbus, rtl_433: framer byte vectors (garbage, split reads) and sim ↔ driver."""

from __future__ import annotations

import json
import os

import pytest
from hw_helpers import wait_for

from core.types import LinkMode
from hardware import amber, cul, open_receiver, rc1180, rtl433, rtlwmbus
from hardware.base import Fault, Heard, Reply
from hardware.dll import add_format_b_crcs
from hardware.probe import probe
from hardware.sim.amber import AmberSimulator
from hardware.sim.cul import CulSimulator
from hardware.sim.frames import OMS_EXAMPLE, synthetic_frame
from hardware.sim.im871a import Im871aSimulator
from hardware.sim.rc1180 import Rc1180Simulator

AMBER_IND = bytes.fromhex("FF032F") + OMS_EXAMPLE[1:] + bytes.fromhex("D2DF")
CUL_LINE = (b"b2E44931578563412330333637A2A0020255923C95AAA26D1B2E7493BC2AD013EC4A6F6D3529B520EDFF0EA6DEFC9"
            b"55B29D6D69EBF3EC8A30C8\r\n")
RC_PACKET = bytes([0x2F]) + OMS_EXAMPLE[1:] + bytes([0x64])  # RSSI 100 → −50 dBm
RTLW_LINE = b"T1;1;1;2019-04-03 19:00:42.000;97;148;12345678;0x" + OMS_EXAMPLE.hex().encode() + b"\n"
RTL433_LINE = json.dumps({"time": "@0.03s", "model": "Wireless-MBus", "mode": "C", "M": "ELS",
                          "data": add_format_b_crcs(OMS_EXAMPLE).hex(), "rssi": -71.5}).encode() + b"\n"


def run(framer, stream: bytes, chunk: int) -> list:
    events = []
    for i in range(0, len(stream), chunk):
        events += framer.feed(stream[i : i + chunk])
    return events


# framer, one good unit, garbage that cannot look like a frame start, expected RSSI
VECTORS = {
    "amber": (amber.AmberFramer, AMBER_IND, b"\x12\x34\xff\x99", -97.0),
    "cul": (cul.CulFramer, CUL_LINE, b"\x00garbage\r\n", -102.0),
    "rc1180": (rc1180.Rc1180Framer, RC_PACKET, b"\x03\x99\x05", -50.0),
    "rtlwmbus": (rtlwmbus.RtlWmbusFramer, RTLW_LINE, b"rtl_wmbus: starting\n", None),
    "rtl433": (rtl433.Rtl433Framer, RTL433_LINE, b'{"model":"Other"}\n', -71.5),
}


@pytest.mark.parametrize("name", sorted(VECTORS))
@pytest.mark.parametrize("chunk", [1, 3, 17, 4096])
def test_framer_survives_garbage_and_split_reads(name, chunk):
    make, unit, garbage, rssi = VECTORS[name]
    events = run(make(), garbage + unit + garbage + unit + unit, chunk)
    heard = [e for e in events if isinstance(e, Heard)]
    assert [h.frame for h in heard] == [OMS_EXAMPLE] * 3
    assert heard[0].rssi_dbm == pytest.approx(rssi) if rssi is not None else heard[0].rssi_dbm is None


def test_amber_bad_checksum_is_crc_fault():
    broken = bytearray(AMBER_IND)
    broken[20] ^= 0xFF
    events = amber.AmberFramer().feed(bytes(broken) + AMBER_IND)
    assert any(isinstance(e, Fault) and e.kind == "crc" for e in events)
    assert [e.frame for e in events if isinstance(e, Heard)] == [OMS_EXAMPLE]


def test_amber_recorded_exchanges():
    assert amber.build(amber.FWV_REQ) == bytes.fromhex("FF0C00F3")
    assert amber.build(amber.SET_MODE_REQ, b"\x0e") == bytes.fromhex("FF04010EF4")
    assert amber.build(amber.SET_REQ, b"\x05\x01\x01") == bytes.fromhex("FF0903050101F0")
    assert amber.AmberFramer().feed(bytes.fromhex("FF8C0301020370")) == [Reply(0x8C, b"\x01\x02\x03")]


def test_amber_rssi_flag_learned_from_get_confirmation():
    framer = amber.AmberFramer()
    framer.feed(amber.build(amber.GET_REQ | amber.CNF, bytes([amber.NVM_RSSI_ENABLE, 1, 0])))
    (event,) = framer.feed(amber.build(amber.DATA_IND, OMS_EXAMPLE[1:]))
    assert event.frame == OMS_EXAMPLE and event.rssi_dbm is None


def test_cul_format_b_line_and_crc_failure():
    events = cul.CulFramer().feed(b"bY1444AE0C7856341201078C2027780B134365877AC5\r\n")
    assert events == [Heard(bytes.fromhex("1244AE0C7856341201078C2027780B13436587"), None, LinkMode.C1B)]
    bad = CUL_LINE.replace(b"C2AD", b"C2AE")
    events = cul.CulFramer().feed(bad)
    assert [type(e) for e in events] == [Fault, Heard] and events[1].has_crcs


def test_rtlwmbus_rejects_failed_crc_lines_and_strips_prefix():
    assert isinstance(rtlwmbus.parse_line("T1;0;1;x;1;2;12345678;0x" + OMS_EXAMPLE.hex()), Fault)
    event = rtlwmbus.parse_line("rla;C1;1;1;x;1;2;12345678;0x" + OMS_EXAMPLE.hex())
    assert event == Heard(OMS_EXAMPLE, None, LinkMode.C1)


def test_rtl433_untrusted_l_field_is_rewritten():
    wrong_l = bytes([0x40]) + OMS_EXAMPLE[1:]
    event = rtl433.parse_line(json.dumps({"model": "Wireless-MBus", "mode": "T", "data": wrong_l.hex()}))
    assert event == Heard(OMS_EXAMPLE, None, LinkMode.T1)


SIMS = {
    "amb8465": (AmberSimulator, "C1"),
    "cul": (CulSimulator, "T1"),
    "rc1180": (Rc1180Simulator, "T1"),
    "im871a": (Im871aSimulator, "T1"),
}


@pytest.mark.parametrize("kind", sorted(SIMS))
def test_simulator_and_driver_over_pty(kind):
    sim_cls, mode = SIMS[kind]
    frames = [synthetic_frame(40000000 + i, i, size=20 + i * 7) for i in range(12)]
    with sim_cls() as sim, open_receiver(kind, sim.port, link_mode=mode, source="rx") as rx:
        assert rx.wait_ready(5), kind
        wait_for(lambda: sim.inits >= 1)  # the last init command may still be in flight
        for i, frame in enumerate(frames):
            assert sim.transmit(frame, rssi_dbm=-60.0 - i)
        got = [rx.get(5) for _ in frames]
    assert [f.payload for f in got] == frames
    assert got[3].rssi_dbm == pytest.approx(-63.0, abs=0.6)
    assert rx.stats.crc_errors == 0 and rx.stats.frames == len(frames)


def test_amber_in_transparent_mode_is_switched_to_command_mode():
    with AmberSimulator(cmd_output=False) as sim, open_receiver("amb8465", sim.port, link_mode="T1") as rx:
        assert rx.wait_ready(8)
        assert sim.nvm[amber.NVM_UART_CMD_OUT] == 1 and sim.resets == 1 and sim.mode == 0x08
        sim.transmit(OMS_EXAMPLE)
        assert rx.get(5).payload == OMS_EXAMPLE


def test_rc1180_init_writes_mode_and_rssi():
    with Rc1180Simulator() as sim, open_receiver("rc1180", sim.port, link_mode="C1") as rx:
        assert rx.wait_ready(5)
        assert sim.nvm[rc1180.NVM_MBUS_MODE] == 9 and sim.nvm[rc1180.NVM_RSSI_MODE] == 1
        wait_for(lambda: not sim.config_mode)


def test_cul_watchdog_reinitialises():
    with CulSimulator() as sim, open_receiver("cul", sim.port, silence_reset_s=0.4) as rx:
        assert rx.wait_ready(5)
        sim.mute()
        wait_for(lambda: rx.stats.watchdog_resets >= 1 and sim.inits >= 2)


@pytest.mark.parametrize("kind", sorted(SIMS))
def test_probe_identifies_each_simulator(kind):
    with SIMS[kind][0]() as sim:
        result = probe(sim.port)
    assert result is not None and result.kind == kind


def test_probe_of_a_silent_port_finds_nothing():
    sim = Im871aSimulator()  # never started: nothing answers
    try:
        assert probe(sim.port) is None
    finally:
        sim.close()


def test_rtlwmbus_from_a_fifo(tmp_path):
    fifo = tmp_path / "rtl.fifo"
    os.mkfifo(fifo)
    with open_receiver("rtlwmbus", str(fifo), source="sdr") as rx:
        with open(fifo, "wb") as writer:  # blocks until the receiver opened the read end
            writer.write(b"rtl_wmbus starting\n" + RTLW_LINE + RTLW_LINE.replace(b"T1;", b"C1;", 1))
        first, second = rx.get(5), rx.get(5)
    assert first.payload == second.payload == OMS_EXAMPLE
    assert (first.link_mode, second.link_mode) == (LinkMode.T1, LinkMode.C1)
