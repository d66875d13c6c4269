"""The production broker config (deploy/mosquitto/odczyt.conf) on a real Mosquitto, with accounts written by
``odczyt mqtt``: no anonymous client, per-gateway ACLs, ingest reads but cannot publish frames, a client id
cannot take over another account's session, gateways over TLS, accounts added while the broker runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from deploy_helpers import ProdBroker, Session, connect, publish, publish_once, start_prod_broker, wait_until
from typer.testing import CliRunner

from collectors.gateway import Gateway
from collectors.mqtt import MqttTarget
from core.settings import MqttSettings
from core.types import LinkMode, RawFrame
from core.wire import decode_frames
from hardware.sim.frames import synthetic_frame
from pipeline.cli import app

SHARE = "$share/ingest/odczyt/v1/frames/+"
PASSWORDS = {"gw-a": "gateway-a-password", "gw-b": "gateway-b-password", "ingest-1": "ingest-one-password",
             "ops-1": "ops-one-password", "ingest-2": "ingest-two-password"}


def _cli(broker: ProdBroker, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["mqtt", *args, "--password-file", str(broker.files.passwords),
                                      "--acl-file", str(broker.files.acl)], input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def prod(tmp_path: Path) -> Iterator[ProdBroker]:
    broker = start_prod_broker(tmp_path)
    try:
        for kind, name in (("gateway", "gw-a"), ("gateway", "gw-b"), ("ingest", "ingest-1"), ("ingest", "ingest-2"),
                           ("ops", "ops-1")):
            args = ("add-gateway", name) if kind == "gateway" else ("add-service", kind, name)
            code, _, err = _cli(broker, *args, "--password-stdin", "--reload", "--pid-file", str(broker.pid_file),
                                stdin=PASSWORDS[name] + "\n")
            assert code == 0, err
        wait_until(lambda: _can_connect(broker, "ops-1"), what="the broker to load the accounts")
        yield broker
    finally:
        broker.broker.stop()


def _can_connect(broker: ProdBroker, user: str) -> bool:
    s = connect(broker.port, user, PASSWORDS[user])
    s.close()
    return s.connected.is_set()


def _as(broker: ProdBroker, user: str, **kw: object) -> Session:
    s = connect(broker.port, user, PASSWORDS[user], **kw)  # type: ignore[arg-type]
    assert s.connected.is_set(), f"{user} refused: {s.connack}"
    return s


def test_anonymous_and_wrong_passwords_are_refused_on_both_listeners(prod: ProdBroker) -> None:
    for port, ca in ((prod.port, None), (prod.tls_port, prod.ca)):
        for user, password in ((None, None), ("gw-a", "wrong"), ("nobody", "gateway-a-password")):
            s = connect(port, user, password, ca=ca)
            s.close()
            assert not s.connected.is_set(), f"{user!r} got in on port {port}"


def test_gateway_publishes_only_its_own_topics_and_reads_no_frames(prod: ProdBroker) -> None:
    ingest, ops, gw_b = _as(prod, "ingest-1"), _as(prod, "ops-1"), _as(prod, "gw-b")
    gw_a = None
    try:
        ingest.subscribe(SHARE)
        ingest.subscribe("odczyt/v1/status/+")
        ops.subscribe("odczyt/v1/#")
        gw_b.subscribe("odczyt/v1/frames/#")  # granted by Mosquitto 2.0, but nothing is delivered to it
        publish_once(prod.port, "gw-a", PASSWORDS["gw-a"], "odczyt/v1/frames/gw-b", b"forged")
        publish_once(prod.port, "gw-a", PASSWORDS["gw-a"], "odczyt/v1/status/gw-b", b"forged status")
        gw_a = _as(prod, "gw-a")
        publish(gw_a, "odczyt/v1/frames/gw-a", b"genuine")
        publish(gw_a, "odczyt/v1/status/gw-a", b"online")
        wait_until(lambda: len(ingest.received) >= 2, what="gw-a's own frames and status")
        wait_until(lambda: ("odczyt/v1/status/gw-a", b"online") in ops.received, what="status at ops")
        assert sorted(ingest.received) == [("odczyt/v1/frames/gw-a", b"genuine"), ("odczyt/v1/status/gw-a", b"online")]
        assert gw_b.received == []
        assert all("/frames/" not in topic for topic in ops.topics()), "ops must not read frames"
    finally:
        for s in (ingest, ops, gw_a, gw_b):
            if s is not None:
                s.close()


def test_ingest_and_ops_accounts_cannot_publish_frames_or_status(prod: ProdBroker) -> None:
    reader, ops, gw = _as(prod, "ingest-2"), _as(prod, "ops-1"), _as(prod, "gw-a")
    try:
        reader.subscribe(SHARE)
        ops.subscribe("odczyt/v1/status/+")
        for user in ("ingest-1", "ops-1"):  # ops-1 again: its second connection replaces the first (one account,
            for topic in ("odczyt/v1/frames/gw-a", "odczyt/v1/status/gw-a"):  # one session); it resumes below
                publish_once(prod.port, user, PASSWORDS[user], topic, b"from " + user.encode())
        ops.close()
        ops = _as(prod, "ops-1")
        ops.subscribe("odczyt/v1/status/+")
        publish(gw, "odczyt/v1/frames/gw-a", b"sentinel")
        publish(gw, "odczyt/v1/status/gw-a", b"sentinel")
        wait_until(lambda: reader.received and ops.received, what="the sentinels")
        assert [p for _, p in reader.received] == [b"sentinel"]
        assert [p for _, p in ops.received] == [b"sentinel"]
    finally:
        for s in (reader, ops, gw):
            s.close()


def test_a_client_id_cannot_take_over_another_accounts_session(prod: ProdBroker) -> None:
    worker = _as(prod, "ingest-1", client_id="odczyt-ingest-1", clean_start=False, expiry_s=3600)
    worker.subscribe(SHARE)
    worker.close()  # offline: the broker queues the group's frames for its session
    gw = _as(prod, "gw-a")
    for i in range(5):
        publish(gw, "odczyt/v1/frames/gw-a", b"queued %d" % i)
    # a gateway (or anyone) reusing the worker's client id with a clean start: with the id bound to the
    # account it gets a session of its own, the worker's session and its queue are untouched
    thief = _as(prod, "gw-a", client_id="odczyt-ingest-1", clean_start=True)
    thief.close()
    gw.close()
    back = _as(prod, "ingest-1", client_id="odczyt-ingest-1", clean_start=False, expiry_s=3600)
    try:
        wait_until(lambda: len(back.received) == 5, what="the 5 frames queued for the worker's session")
        assert sorted(p for _, p in back.received) == [b"queued %d" % i for i in range(5)]
    finally:
        back.close()


def test_another_shared_group_cannot_take_a_share_of_the_ingest_groups_frames(prod: ProdBroker) -> None:
    """Mosquitto 2.0's acl_file does not check SUBSCRIBE: any account can join a shared group it knows the name
    of, and the frames routed to it (which its ACL does not let it read) are dropped. A per-installation
    group name (``ODCZYT_INGEST__SHARED_GROUP``, docs/deploy.md) keeps other accounts out of the ingest group."""
    group = "$share/ingest-5f1c0e9ab2/odczyt/v1/frames/+"
    worker, intruder, gw = _as(prod, "ingest-1"), _as(prod, "gw-b"), _as(prod, "gw-a")
    try:
        worker.subscribe(group)
        intruder.subscribe(SHARE)
        intruder.subscribe("$share/ingest/odczyt/v1/frames/#")
        for i in range(20):
            publish(gw, "odczyt/v1/frames/gw-a", b"%d" % i)
        wait_until(lambda: len(worker.received) == 20, what="all 20 frames at the worker")
        assert intruder.received == []
    finally:
        for s in (worker, intruder, gw):
            s.close()


def test_gateway_over_tls_with_its_account(prod: ProdBroker, tmp_path: Path) -> None:
    ingest = _as(prod, "ingest-1")
    ingest.subscribe(SHARE)
    target = MqttTarget.from_url(f"mqtts://gw-a:{PASSWORDS['gw-a']}@127.0.0.1:{prod.tls_port}",
                                 MqttSettings(ca_file=prod.ca))
    frames = [RawFrame(payload=synthetic_frame(31000000 + i, i), received_at=dt.datetime.now(dt.UTC),
                       source="gw-a", rssi_dbm=-70.0, link_mode=LinkMode.T1) for i in range(30)]
    try:
        with Gateway("gw-a", target, tmp_path / "spool.db", batch_frames=10, batch_ms=20) as gw:
            for f in frames:
                gw.submit(f)
            assert gw.wait_drained(20)
        payloads = lambda: [f.payload for t, p in ingest.received if "/frames/" in t  # noqa: E731
                            for f in decode_frames(p)[1]]
        wait_until(lambda: len(payloads()) >= 30, what="30 frames over TLS")
        assert sorted(payloads()) == sorted(f.payload for f in frames)
    finally:
        ingest.close()


def test_a_gateway_added_while_the_broker_runs_connects_after_reload(prod: ProdBroker) -> None:
    assert not _can_connect_with(prod, "gw-new", "x" * 20)
    code, out, err = _cli(prod, "add-gateway", "gw-new", "--reload", "--pid-file", str(prod.pid_file))
    assert code == 0, err
    password = out.strip()
    assert len(password) >= 24 and "\n" not in password and password not in err
    wait_until(lambda: _can_connect_with(prod, "gw-new", password), what="gw-new to be accepted")
    code, _, err = _cli(prod, "remove-gateway", "gw-new", "--reload", "--pid-file", str(prod.pid_file))
    assert code == 0, err
    wait_until(lambda: not _can_connect_with(prod, "gw-new", password), what="gw-new to be refused")


def _can_connect_with(prod: ProdBroker, user: str, password: str) -> bool:
    s = connect(prod.port, user, password)
    s.close()
    return s.connected.is_set()


def test_ingest_publishes_receipts_that_only_their_gateway_reads(prod: ProdBroker) -> None:
    """Issue 13: storage receipts on ``odczyt/v1/receipts/{id}``: ingest may write them, gw-a reads its own."""
    gw_a, gw_b = _as(prod, "gw-a"), _as(prod, "gw-b")
    try:
        gw_a.subscribe("odczyt/v1/receipts/gw-a")
        gw_b.subscribe("odczyt/v1/receipts/gw-a")  # someone else's receipts: nothing is delivered
        publish_once(prod.port, "gw-b", PASSWORDS["gw-b"], "odczyt/v1/receipts/gw-a", b"forged receipt")
        publish_once(prod.port, "ingest-1", PASSWORDS["ingest-1"], "odczyt/v1/receipts/gw-a", b"receipt")
        wait_until(lambda: gw_a.received != [], what="gw-a's receipt")
        assert gw_a.received == [("odczyt/v1/receipts/gw-a", b"receipt")]
        assert gw_b.received == []
    finally:
        gw_a.close()
        gw_b.close()
