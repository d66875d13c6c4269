"""iM871A: HCI framer byte vectors, link-mode setup, and the driver against the pty simulator."""

from __future__ import annotations

import pytest
from hw_helpers import wait_for

from core.types import LinkMode
from hardware import im871a as hci
from hardware import open_receiver
from hardware.base import Fault, Heard, Reply
from hardware.dll import add_format_a_crcs, add_format_b_crcs
from hardware.sim.frames import OMS_EXAMPLE, synthetic_frame
from hardware.sim.im871a import Im871aSimulator, parse_set_config

WITH_RSSI_FCS = bytes.fromhex(
    "A5C2032E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3"
    "901157"
)
PLAIN = bytes.fromhex("A502032E") + OMS_EXAMPLE[1:]


def heard(events):
    return [e for e in events if isinstance(e, Heard)]


def test_fcs_matches_recorded_set_config_exchange():
    request = bytes.fromhex("A58103060003000308 00B8D6".replace(" ", ""))
    assert hci.fcs(request[1:-2]) == 0xD6B8
    assert hci.build(hci.EP_DEVMGMT, hci.SET_CONFIG_RSP) == bytes.fromhex("A58104009CF7")
    assert hci.build(hci.EP_DEVMGMT, hci.PING_REQ, with_fcs=False) == bytes.fromhex("A5010100")


@pytest.mark.parametrize("raw", [WITH_RSSI_FCS, PLAIN])
def test_indication_rebuilds_l_field(raw):
    events = hci.HciFramer().feed(raw)
    assert len(events) == 1 and isinstance(events[0], Heard)
    assert events[0].frame == OMS_EXAMPLE


def test_rssi_conversion_of_example():
    (event,) = hci.HciFramer().feed(WITH_RSSI_FCS)
    assert event.rssi_dbm == pytest.approx(-49.87, abs=0.01)
    assert hci.rssi_dbm(hci.rssi_raw(-80.0)) == pytest.approx(-80.0, abs=0.6)


def test_garbage_before_between_and_after_frames_is_skipped():
    stream = b"\x00\x13\xff" + WITH_RSSI_FCS + b"\xa5\x77garbage" + PLAIN + b"\x01\x02"
    framer = hci.HciFramer()
    events = framer.feed(stream)
    assert [e.frame for e in heard(events)] == [OMS_EXAMPLE, OMS_EXAMPLE]
    assert any(isinstance(e, Fault) for e in events)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 50])
def test_split_reads_give_the_same_frames(chunk):
    stream = WITH_RSSI_FCS + PLAIN + WITH_RSSI_FCS
    framer = hci.HciFramer()
    events = []
    for i in range(0, len(stream), chunk):
        events += framer.feed(stream[i : i + chunk])
    assert len(heard(events)) == 3


def test_bad_fcs_is_a_crc_fault_and_the_next_frame_survives():
    broken = bytearray(WITH_RSSI_FCS)
    broken[10] ^= 0x01
    events = hci.HciFramer().feed(bytes(broken) + WITH_RSSI_FCS)
    assert [e.kind for e in events if isinstance(e, Fault)][:1] == ["crc"]
    assert len(heard(events)) == 1


def test_stray_sof_in_garbage_resolved_by_idle():
    framer = hci.HciFramer()
    assert framer.feed(b"\xa5\x02\x03\xf0" + b"\x00" * 5) == []  # looks like a long frame start
    events = framer.idle()
    assert isinstance(events[0], Fault)
    assert heard(framer.feed(WITH_RSSI_FCS)) and not framer._buf.data


def test_replies_carry_endpoint_and_message_id():
    (event,) = hci.HciFramer().feed(bytes.fromhex("A58104009CF7"))
    assert event == Reply((hci.EP_DEVMGMT, hci.SET_CONFIG_RSP), b"")


@pytest.mark.parametrize(("mode", "code"), [("T1", 0x03), ("C1", 0x07), ("S1", 0x00), ("C1T1", 0x0A)])
def test_set_config_carries_link_mode_and_rssi(mode, code):
    step = hci.Im871aDriver().init_steps(mode)[-1]
    (event,) = hci.HciFramer().feed(step.send)
    fields = parse_set_config(event.payload)
    assert fields["link_mode"] == code and fields["rssi"] == 1 and fields["nvm"] == 0


def test_unknown_link_mode_is_rejected():
    with pytest.raises(ValueError, match="link mode"):
        hci.Im871aDriver().init_steps("X9")


def test_driver_and_simulator_over_pty():
    frames = [synthetic_frame(10000000 + i, i) for i in range(20)]
    with Im871aSimulator() as sim, open_receiver("im871a", sim.port, link_mode="T1", source="gw-t") as rx:
        assert rx.wait_ready(5)
        assert sim.link_mode == 0x03 and sim.rssi_attached
        for i, frame in enumerate(frames):
            on_air = [add_format_a_crcs, add_format_b_crcs, bytes][i % 3](frame)
            assert sim.transmit(on_air, rssi_dbm=-70.0 - i)
        got = [rx.get(5) for _ in frames]
    assert [f.payload for f in got] == frames
    assert all(f.source == "gw-t" and f.link_mode is LinkMode.T1 for f in got)
    assert got[0].rssi_dbm == pytest.approx(-70, abs=0.6)
    assert got[0].received_at.utcoffset().total_seconds() == 0
    assert rx.captured["device_info"][0] == 0x33


def test_watchdog_resets_a_silent_device():
    with Im871aSimulator() as sim, open_receiver("im871a", sim.port, silence_reset_s=0.5) as rx:
        assert rx.wait_ready(5)
        sim.mute()
        assert not sim.transmit(synthetic_frame(1))
        wait_for(lambda: rx.stats.watchdog_resets >= 1 and sim.inits >= 2)
        assert sim.resets >= 1
        wait_for(lambda: sim.transmit(synthetic_frame(2)))
        assert rx.get(5).payload == synthetic_frame(2)


def test_receiver_reconnects_after_init_failure():
    sim = Im871aSimulator()  # not started yet: nobody answers the ping
    with open_receiver("im871a", sim.port, backoff_max_s=0.3) as rx:
        wait_for(lambda: rx.stats.reconnects >= 1)
        sim.start()
        assert rx.wait_ready(5)
        sim.transmit(OMS_EXAMPLE)
        assert rx.get(5).payload == OMS_EXAMPLE
    sim.close()
