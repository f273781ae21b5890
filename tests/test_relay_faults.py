"""The relay's faults against one party, over real sockets: a hand-written daemon (websockets client) and phones.

Refused upgrades (status and body, counted, then served again), a close with a code after N frames, a drop with no
close frame, a per-party delay, and pings left unanswered until the client's own keepalive gives up. The fault
registry itself is checked as plain values.
"""

from __future__ import annotations

import asyncio

import pytest
from test_backend_relay import TIMEOUT, daemon_headers, daemon_socket, phone, recv_close, recv_json, setup
from test_backend_remote_control import Backend, with_backend
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from simulators.backend.relay_faults import CloseOrder, RelayFaults, RelayParty

DAEMON, PHONE = RelayParty.DAEMON, RelayParty.PHONE


def test_refused_daemon_upgrades_answer_the_status_then_the_relay_serves_again() -> None:
    async def body(b: Backend) -> None:
        _dana, daemon = await setup(b)
        b.service.relay.faults.refuse_upgrades(DAEMON, 503, "upstream connect error", times=2)
        url = b.ws_base + "wham/remote/control/server"
        for _ in range(2):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, additional_headers=daemon_headers(b, daemon), open_timeout=TIMEOUT):
                    pass
            assert refused.value.response.status_code == 503
            assert refused.value.response.body == b"upstream connect error"
        assert b.service.relay.faults.refused[DAEMON] == 2
        async with daemon_socket(b, daemon):
            assert b.service.relay.daemon_connected(daemon.environment_id)

    with_backend(body)


def test_a_refused_phone_upgrade_leaves_the_daemon_alone() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        b.service.relay.faults.refuse_upgrades(PHONE, 403)
        async with daemon_socket(b, daemon):
            with pytest.raises(InvalidStatus) as refused:
                async with phone(b, dana, daemon):
                    pass
            assert refused.value.response.status_code == 403
            assert b.service.relay.daemon_connected(daemon.environment_id)
            async with phone(b, dana, daemon) as p:
                assert p.accepted["hostStatus"] == "online"

    with_backend(body)


def test_the_daemon_socket_closes_with_the_code_after_the_frames_it_was_allowed() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon) as dws, phone(b, dana, daemon) as p:
            assert p.accepted["hostStatus"] == "online"
            b.service.relay.faults.close_after(DAEMON, 2, 4000, "closing for the test")
            for request_id in (1, 2):
                await p.send({"type": "client_message", "message": {"id": request_id, "method": "m"}})
            assert (await recv_json(dws))["message"]["id"] == 1
            assert (await recv_json(dws))["message"]["id"] == 2
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(dws.recv(), TIMEOUT)
            assert closed.value.rcvd is not None
            assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4000, "closing for the test")
            assert await p.recv() == {"type": "host_status", "status": "offline"}

    with_backend(body)


def test_close_at_once_closes_every_open_phone_socket() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with phone(b, dana, daemon) as p:
            b.service.relay.faults.close_after(PHONE, 0, 1011, "relay restarting")
            order = b.service.relay.faults.close_now(PHONE)
            assert order == CloseOrder(1011, "relay restarting")
            assert await b.service.relay.close_party_now(PHONE, order) == 1
            assert await recv_close(p.ws) == 1011

    with_backend(body)


def test_a_dropped_daemon_socket_ends_with_no_close_frame() -> None:
    async def body(b: Backend) -> None:
        _dana, daemon = await setup(b)
        async with daemon_socket(b, daemon) as dws:
            assert await b.service.relay.drop(DAEMON) == 1
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(dws.recv(), TIMEOUT)
            assert closed.value.rcvd is None, "a dropped connection sends no close frame"
            assert not b.service.relay.daemon_connected(daemon.environment_id)

    with_backend(body)


def test_a_delay_holds_only_the_party_it_names() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon) as dws, phone(b, dana, daemon) as p:
            b.service.relay.faults.delay(DAEMON, 0.3)
            loop = asyncio.get_running_loop()
            started = loop.time()
            await p.send({"type": "client_message", "message": {"id": 1, "method": "slow"}})
            await recv_json(dws)
            assert loop.time() - started >= 0.3
            b.service.relay.faults.delay(DAEMON, 0)
            # The phone's frames were never held: an error frame comes straight back.
            started = loop.time()
            await p.send({"type": "nonsense"})
            assert (await p.recv())["type"] == "error"
            assert loop.time() - started < 0.3

    with_backend(body)


def test_unanswered_pings_make_the_clients_keepalive_give_up() -> None:
    async def body(b: Backend) -> None:
        _dana, daemon = await setup(b)
        url = b.ws_base + "wham/remote/control/server"
        # The client's own keepalive, short for the test: the relay answers it, until told not to.
        async with connect(url, additional_headers=daemon_headers(b, daemon), ping_interval=0.05,
                           ping_timeout=0.5, open_timeout=TIMEOUT) as answered:
            await asyncio.wait_for(answered.ping(), TIMEOUT)
        b.service.relay.faults.stop_answering_pings(DAEMON)
        async with connect(url, additional_headers=daemon_headers(b, daemon), ping_interval=0.05,
                           ping_timeout=0.5, open_timeout=TIMEOUT) as ignored:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ignored.recv(), TIMEOUT)
            assert closed.value.sent is not None and closed.value.sent.code == 1011  # keepalive ping timeout
        assert any(event.kind == "ping_unanswered" for event in b.service.relay.events.events)

    with_backend(body)


@pytest.mark.parametrize(
    ("arm", "message"),
    [
        (lambda f: f.refuse_upgrades(DAEMON, 200), "HTTP error status"),
        (lambda f: f.refuse_upgrades(PHONE, 403, times=0), "at least one"),
        (lambda f: f.close_after(DAEMON, -1, 1000), "negative"),
        (lambda f: f.close_after(DAEMON, 1, 1006), "not a close code"),
        (lambda f: f.close_after(PHONE, 1, 4000, "x" * 124), "123 bytes"),
        (lambda f: f.delay(PHONE, -1), "between 0"),
    ],
)
def test_faults_refuse_values_no_relay_could_act_on(arm: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        arm(RelayFaults())  # type: ignore[operator]


def test_a_close_order_counts_frames_and_fires_once() -> None:
    faults = RelayFaults()
    faults.close_after(PHONE, 2, 4000)
    assert faults.close_now(PHONE) is None, "a close after frames does not fire at once"
    assert faults.frame_sent(DAEMON) is None, "frames to the other party do not count"
    assert faults.frame_sent(PHONE) is None
    assert faults.frame_sent(PHONE) == CloseOrder(4000, "")
    assert faults.frame_sent(PHONE) is None
