"""The relay over real sockets: a hand-written daemon (websockets client) and phones on the backend's relay.

Daemon socket: handshake refusals, envelopes with client_id/stream_id/seq_id/cursor, acks, chunk reassembly,
replay after reconnect with a cursor, ping/pong, password change → close 4401. Phone socket: device-key proof
(accepted, wrong key, replay, timeout), routing only to the addressed phone, host_status, host_offline,
client_closed, revocation.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from test_backend_remote_control import Backend, Daemonish, Person, claim_body, with_backend
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from simulators.backend import relay as backend_relay
from simulators.protocol import relay as rp
from simulators.protocol.device_key import DeviceKey, DeviceKeyChallenge

TIMEOUT = 5


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))  # type: ignore[no-any-return]


async def recv_close(ws: ClientConnection) -> int | None:
    """Read until the socket closes; the close code the server sent."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def daemon_headers(b: Backend, d: Daemonish, *, cursor: str | None = None, **override: str) -> dict[str, str]:
    headers = rp.RelayHandshake(
        server_id=d.server_id,
        server_name=d.name,
        installation_id=d.installation_id,
        remote_control_token=d.token,
        subscribe_cursor=cursor,
    ).to_headers()
    headers.update(override)
    return headers


@asynccontextmanager
async def daemon_socket(
    b: Backend, d: Daemonish, *, cursor: str | None = None
) -> AsyncIterator[ClientConnection]:
    url = b.ws_base + "wham/remote/control/server"
    async with connect(
        url, additional_headers=daemon_headers(b, d, cursor=cursor), open_timeout=TIMEOUT
    ) as ws:
        await b.service.wait_daemon_connected(d.environment_id, TIMEOUT)
        yield ws


class Phone:
    def __init__(self, ws: ClientConnection, claimed: dict[str, Any], accepted: dict[str, Any],
                 pairing: dict[str, Any], key: DeviceKey) -> None:
        self.ws = ws
        self.claimed = claimed
        self.accepted = accepted
        self.pairing = pairing
        self.key = key

    @property
    def client_id(self) -> str:
        return self.claimed["client_id"]  # type: ignore[no-any-return]

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def recv(self) -> dict[str, Any]:
        return await recv_json(self.ws)


def phone_headers(claimed: dict[str, Any], token: str | None = None) -> dict[str, str]:
    headers = {
        "x-codex-client-session-token": f"Bearer {claimed['client_session_token']}",
        "x-codex-client-id": claimed["client_id"],
        "x-codex-protocol-version": "3",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


@asynccontextmanager
async def open_phone_socket(b: Backend, claimed: dict[str, Any]) -> AsyncIterator[ClientConnection]:
    async with connect(
        b.ws_base + "wham/remote/control/client",
        additional_headers=phone_headers(claimed),
        open_timeout=TIMEOUT,
    ) as ws:
        yield ws


@asynccontextmanager
async def phone(b: Backend, person: Person, daemon: Daemonish) -> AsyncIterator[Phone]:
    pairing = await b.pair(daemon)
    claimed, key = await b.claim(person, pairing)
    async with open_phone_socket(b, claimed) as ws:
        challenge = DeviceKeyChallenge.from_json(await recv_json(ws))
        await ws.send(json.dumps(key.prove(challenge).to_json()))
        accepted = await recv_json(ws)
        assert accepted["type"] == "device_key_accepted", accepted
        yield Phone(ws, claimed, accepted, pairing, key)


async def setup(b: Backend) -> tuple[Person, Daemonish]:
    dana = b.person()
    return dana, await b.enroll(dana)


async def next_of(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = await recv_json(ws)
        if frame.get("type") == kind:
            return frame


# ------------------------------------------------------------------------------------------------ daemon handshake


def test_daemon_handshake_refusals_are_http_statuses() -> None:
    async def body(b: Backend) -> None:
        _dana, daemon = await setup(b)
        url = b.ws_base + "wham/remote/control/server"
        cases = [
            (daemon_headers(b, daemon, authorization="Bearer wrong"), 401),
            (daemon_headers(b, daemon, **{"x-codex-server-id": "srv_unknown"}), 404),
            (daemon_headers(b, daemon, **{"x-codex-protocol-version": "2"}), 400),
            (daemon_headers(b, daemon, **{"x-codex-name": "!!notbase64"}), 400),
            (daemon_headers(b, daemon, **{"x-codex-installation-id": "inst-other"}), 404),
        ]
        missing_auth = daemon_headers(b, daemon)
        del missing_auth["authorization"]
        cases.append((missing_auth, 401))
        for headers, status in cases:
            with pytest.raises(InvalidStatus) as info:
                async with connect(url, additional_headers=headers, open_timeout=TIMEOUT):
                    pass
            assert info.value.response.status_code == status
            assert info.value.response.headers["x-request-id"]
        async with daemon_socket(b, daemon):
            assert b.service.relay.daemon_connected(daemon.environment_id)

    with_backend(body)


def test_a_new_daemon_socket_replaces_the_old_one() -> None:
    async def body(b: Backend) -> None:
        _, daemon = await setup(b)
        async with daemon_socket(b, daemon) as first, daemon_socket(b, daemon):
            assert await recv_close(first) == backend_relay.CLOSE_REPLACED
            assert b.service.relay.daemon_connected(daemon.environment_id)

    with_backend(body)


# ------------------------------------------------------------------------------------------------ routing


def test_phone_message_reaches_daemon_and_reply_reaches_only_that_phone() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with (
            daemon_socket(b, daemon) as dws,
            phone(b, dana, daemon) as p1,
            phone(b, dana, daemon) as p2,
        ):
            assert p1.accepted["hostStatus"] == "online"
            assert p1.accepted["environmentId"] == daemon.environment_id
            assert p1.accepted["serverName"] == "dana-mac"
            request = {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "phone"}}}
            await p1.send({"type": "client_message", "message": request})
            env1 = rp.parse_client_envelope(await dws.recv())
            assert isinstance(env1, rp.ClientMessage)
            assert (env1.message, env1.client_id) == (request, p1.client_id)
            assert env1.stream_id and env1.cursor
            await p2.send({"type": "client_message", "message": {"id": 1, "method": "initialize"}})
            env2 = rp.parse_client_envelope(await dws.recv())
            assert isinstance(env2, rp.ClientMessage)
            assert env2.client_id == p2.client_id and env2.stream_id != env1.stream_id
            assert int(env2.cursor or 0) > int(env1.cursor or 0)

            reply = rp.ServerMessage(
                message={"id": 1, "result": {"for": "p1"}},
                client_id=p1.client_id,
                stream_id=env1.stream_id or "",
                seq_id=1,
            )
            await dws.send(rp.encode(reply))
            got = await p1.recv()
            assert got == {
                "type": "server_message",
                "message": {"id": 1, "result": {"for": "p1"}},
                "seq_id": 1,
            }
            # A message naming p1's client id but p2's stream (or an unknown stream) reaches nobody.
            stray = rp.ServerMessage(
                message={"leak": True}, client_id=p1.client_id, stream_id=env2.stream_id or "", seq_id=1
            )
            await dws.send(rp.encode(stray))
            await dws.send(
                rp.encode(
                    rp.ServerMessage(
                        message={"id": 1, "result": {"for": "p2"}},
                        client_id=p2.client_id,
                        stream_id=env2.stream_id or "",
                        seq_id=1,
                    )
                )
            )
            assert (await p2.recv())["message"] == {"id": 1, "result": {"for": "p2"}}

            # The phone's ack goes to the daemon on the phone's stream.
            await p1.send({"type": "ack", "seq_id": 1})
            ack = rp.parse_client_envelope(await dws.recv())
            assert isinstance(ack, rp.ClientAck)
            assert (ack.client_id, ack.stream_id, ack.seq_id) == (p1.client_id, env1.stream_id, 1)
            # A replayed (already delivered) seq_id is not delivered twice; since it was acked, it is re-acked.
            await dws.send(rp.encode(reply))
            reack = rp.parse_client_envelope(await dws.recv())
            assert isinstance(reack, rp.ClientAck) and reack.seq_id == 1
            await p1.send({"type": "client_message", "message": {"id": 2, "method": "thread/list"}})
            assert rp.parse_client_envelope(await dws.recv()).client_id == p1.client_id
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(
                    p1.ws.recv(), 0.2
                )  # nothing else arrived at p1 (no leak, no duplicate)

    with_backend(body)


def test_chunked_server_message_is_reassembled_for_the_phone() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon) as dws, phone(b, dana, daemon) as p:
            await p.send({"type": "client_message", "message": {"id": 1, "method": "x"}})
            env = rp.parse_client_envelope(await dws.recv())
            big = {"id": 1, "result": {"blob": "é" * 5000}}
            chunks = rp.server_message_chunks(
                big, client_id=p.client_id, stream_id=env.stream_id or "", seq_id=1, max_chunk_bytes=1000
            )
            assert len(chunks) > 5
            for chunk in chunks:
                await dws.send(rp.encode(chunk))
            got = await p.recv()
            assert got == {"type": "server_message", "message": big, "seq_id": 1}

    with_backend(body)


def test_client_closed_reaches_the_daemon_when_a_phone_leaves() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon) as dws:
            async with phone(b, dana, daemon) as p:
                client_id = p.client_id
            closed = rp.parse_client_envelope(await dws.recv())
            assert isinstance(closed, rp.ClientClosed)
            assert closed.client_id == client_id and closed.stream_id

    with_backend(body)


def test_host_status_and_host_offline() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with phone(b, dana, daemon) as p:
            assert p.accepted["hostStatus"] == "offline"
            await p.send({"type": "client_message", "message": {"id": 1, "method": "initialize"}})
            error = await p.recv()
            assert (error["type"], error["code"]) == ("error", "host_offline")
            async with daemon_socket(b, daemon):
                assert await p.recv() == {"type": "host_status", "status": "online"}
            assert await p.recv() == {"type": "host_status", "status": "offline"}

    with_backend(body)


def test_reconnect_with_cursor_replays_what_came_after_it() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with phone(b, dana, daemon) as p:
            async with daemon_socket(b, daemon) as dws:
                await p.recv()  # host_status online
                for n in range(3):
                    await p.send({"type": "client_message", "message": {"id": n, "method": "m"}})
                envelopes = [rp.parse_client_envelope(await dws.recv()) for _ in range(3)]
            await p.recv()  # host_status offline
            async with daemon_socket(b, daemon, cursor=envelopes[0].cursor) as dws:
                replayed = [rp.parse_client_envelope(await dws.recv()) for _ in range(2)]
                assert [e.message["id"] for e in replayed if isinstance(e, rp.ClientMessage)] == [1, 2]
                assert [e.cursor for e in replayed] == [envelopes[1].cursor, envelopes[2].cursor]
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(dws.recv(), 0.2)
            async with daemon_socket(b, daemon) as dws:  # no cursor: a fresh daemon gets no replay
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(dws.recv(), 0.2)

    with_backend(body)


def test_ping_gets_the_daemons_pong() -> None:
    async def body(b: Backend) -> None:
        _dana, daemon = await setup(b)
        async with daemon_socket(b, daemon) as dws:

            async def answer() -> None:
                ping = rp.parse_client_envelope(await dws.recv())
                assert isinstance(ping, rp.Ping)
                await dws.send(
                    rp.encode(
                        rp.Pong(
                            status=rp.PongStatus.ACTIVE,
                            client_id=ping.client_id,
                            stream_id=ping.stream_id or "",
                            seq_id=1,
                        )
                    )
                )

            responder = asyncio.create_task(answer())
            event = await b.service.relay.ping_daemon(
                daemon.environment_id, "cli_x", "stream-1", timeout=TIMEOUT
            )
            await responder
            assert event.detail["status"] == "active"

    with_backend(body)


# ------------------------------------------------------------------------------------------------ device proof


def test_wrong_key_and_replayed_proof_are_rejected_with_4403() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        claimed, key = await b.claim(dana, await b.pair(daemon))
        async with open_phone_socket(b, claimed) as ws:
            challenge = DeviceKeyChallenge.from_json(await recv_json(ws))
            await ws.send(json.dumps(DeviceKey.generate().prove(challenge).to_json()))
            assert await recv_json(ws) == {
                "type": "error",
                "code": "device_proof_rejected",
                "message": "device key proof rejected",
            }
            assert await recv_close(ws) == backend_relay.CLOSE_PROOF_REJECTED
        async with open_phone_socket(b, claimed) as ws:
            old_proof = key.prove(DeviceKeyChallenge.from_json(await recv_json(ws)))
            await ws.send(json.dumps(old_proof.to_json()))
            assert (await recv_json(ws))["type"] == "device_key_accepted"
        async with open_phone_socket(b, claimed) as ws:
            await recv_json(ws)
            await ws.send(json.dumps(old_proof.to_json()))  # a recorded proof, replayed on a new socket
            assert (await recv_json(ws))["code"] == "device_proof_rejected"
            assert await recv_close(ws) == backend_relay.CLOSE_PROOF_REJECTED
        async with open_phone_socket(b, claimed) as ws:
            await recv_json(ws)
            await ws.send("this is not json")
            assert (await recv_json(ws))["code"] == "device_proof_rejected"
            assert await recv_close(ws) == backend_relay.CLOSE_PROOF_REJECTED
        # The backend still serves this phone with a good proof.
        async with open_phone_socket(b, claimed) as ws:
            await ws.send(json.dumps(key.prove(DeviceKeyChallenge.from_json(await recv_json(ws))).to_json()))
            assert (await recv_json(ws))["type"] == "device_key_accepted"

    with_backend(body)


def test_no_proof_in_time_closes_with_4408() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        claimed, _ = await b.claim(dana, await b.pair(daemon))
        async with open_phone_socket(b, claimed) as ws:
            challenge = await recv_json(ws)
            assert challenge["type"] == "device_key_challenge"
            assert challenge["audience"] == "remote_control_client_websocket"
            assert len(base64.urlsafe_b64decode(challenge["nonce"] + "==")) == 32
            assert challenge["targetOrigin"] == b.server.base_url
            assert await recv_close(ws) == backend_relay.CLOSE_PROOF_TIMEOUT

    with_backend(body, device_proof_timeout=0.3)


def test_phone_handshake_refusals() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        claimed, _ = await b.claim(dana, await b.pair(daemon))
        url = b.ws_base + "wham/remote/control/client"
        good = phone_headers(claimed)
        cases = [
            ({**good, "x-codex-client-session-token": "Bearer wrong"}, 401),
            ({k: v for k, v in good.items() if k != "x-codex-client-session-token"}, 401),
            ({**good, "x-codex-protocol-version": "2"}, 400),
            ({**good, "x-codex-client-id": "cli_unknown"}, 404),
        ]
        for headers, status in cases:
            with pytest.raises(InvalidStatus) as info:
                async with connect(url, additional_headers=headers, open_timeout=TIMEOUT):
                    pass
            assert info.value.response.status_code == status

    with_backend(body)


# ------------------------------------------------------------------------------------------------ revocation


def test_revoking_a_client_closes_its_socket_and_refuses_it_later() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon), phone(b, dana, daemon) as p, phone(b, dana, daemon) as other:
            path = f"wham/remote/control/environments/{daemon.environment_id}/clients/{p.client_id}"
            response = await b.http.delete(path, headers={"Authorization": f"Bearer {daemon.token}"})
            assert response.status_code == 204
            assert await recv_close(p.ws) == backend_relay.CLOSE_REVOKED
            with pytest.raises(InvalidStatus) as info:
                async with open_phone_socket(b, p.claimed):
                    pass
            # Told it was removed (openai/codex#23290's 403), with the id of that answer for the phone to quote.
            assert info.value.response.status_code == 403
            assert json.loads(info.value.response.body)["detail"] == "Remote-control client has been revoked"
            assert info.value.response.headers["x-request-id"]
            assert b.service.relay.streams_of(other.client_id)  # the other phone is untouched

    with_backend(body)


def test_password_change_closes_the_daemon_socket_with_4401() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon) as dws:
            b.control.change_password(dana.account_id)
            assert await recv_close(dws) == backend_relay.CLOSE_REVOKED
        with pytest.raises(InvalidStatus) as info:
            async with daemon_socket(b, daemon):
                pass
        assert info.value.response.status_code == 404  # enrollment gone: the daemon must enroll again

    with_backend(body)


def test_password_change_signs_the_phone_out_with_4401_and_refuses_its_session() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon), phone(b, dana, daemon) as p:
            b.control.change_password(dana.account_id)
            assert await recv_close(p.ws) == backend_relay.CLOSE_REVOKED
        with pytest.raises(InvalidStatus) as info:
            async with open_phone_socket(b, p.claimed):
                pass
        assert info.value.response.status_code == 401  # the session ended: sign in and pair again
        # Signed in again, the same phone (same key, same code) gets a new client and a working session.
        fresh = b.token_for(dana)
        response = await b.claim_raw(fresh, claim_body(p.pairing["pairing_code"], p.key))
        assert response.status_code == 200, response.text
        assert response.json()["client_id"] != p.client_id

    with_backend(body)


def test_a_phone_paired_after_the_password_change_stays_signed_in() -> None:
    async def body(b: Backend) -> None:
        dana, _ = await setup(b)
        b.control.change_password(dana.account_id)
        dana.token = b.token_for(dana)
        daemon = await b.enroll(dana, "inst-2")
        async with daemon_socket(b, daemon), phone(b, dana, daemon) as p:
            await p.send({"type": "client_message", "message": {"id": 1, "method": "initialize"}})
            with pytest.raises(TimeoutError):
                # Several rounds of the credentials watcher pass without the socket closing.
                await asyncio.wait_for(next_of(p.ws, "never"), 0.3)

    with_backend(body)


def test_noticing_a_password_change_late_keeps_the_daemon_enrolled_since() -> None:
    """The daemon enrolled again with the new password before the backend noticed the change: noticing it (here
    when the old daemon reconnects) revokes the old enrollment only. A background pass noticing it at that moment
    once made this suite flaky (seed 159306774)."""

    async def body(b: Backend) -> None:
        dana, old = await setup(b)
        b.control.change_password(dana.account_id)
        dana.token = b.token_for(dana)
        new = await b.enroll(dana, "inst-2")
        with pytest.raises(InvalidStatus) as info:
            async with daemon_socket(b, old):
                pass
        assert info.value.response.status_code == 404
        async with daemon_socket(b, new) as ws:  # opens only once the backend counts the daemon connected
            await asyncio.wait_for(await ws.ping(), TIMEOUT)

    # The background watcher makes its first pass at start and none during the test.
    with_backend(body, credentials_poll_interval=3600)


def test_garbled_phone_messages_arrive_cut_short_and_the_next_ones_intact() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon) as dws, phone(b, dana, daemon) as p:
            await p.send({"type": "client_message", "message": {"id": 1, "method": "initialize"}})
            env = rp.parse_client_envelope(await dws.recv())
            b.service.garble_next_phone_messages()
            for seq_id in (1, 2):
                reply = rp.ServerMessage(message={"id": seq_id, "result": {}}, client_id=p.client_id,
                                         stream_id=env.stream_id or "", seq_id=seq_id)
                await dws.send(rp.encode(reply))
            garbled = await asyncio.wait_for(p.ws.recv(), TIMEOUT)
            whole = json.dumps({"type": "server_message", "message": {"id": 1, "result": {}}, "seq_id": 1},
                               separators=(",", ":"))
            assert garbled == whole[: len(whole) // 2]
            assert await p.recv() == {"type": "server_message", "message": {"id": 2, "result": {}}, "seq_id": 2}
        with pytest.raises(ValueError):
            b.service.garble_next_phone_messages(0)

    with_backend(body)


# ------------------------------------------------------------------------------------------------ bad input


def test_bad_daemon_frames_are_dropped_and_the_socket_keeps_working() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with daemon_socket(b, daemon) as dws, phone(b, dana, daemon) as p:
            await p.send({"type": "client_message", "message": {"id": 1, "method": "x"}})
            env = rp.parse_client_envelope(await dws.recv())
            before = len(b.service.events.events)
            bad_frames: list[str | bytes] = [
                "not json",
                "[]",
                '{"type": "teleport"}',
                '{"type": "server_message"}',
                json.dumps(
                    {
                        "type": "server_message",
                        "message": {},
                        "client_id": p.client_id,
                        "stream_id": env.stream_id,
                        "seq_id": 0,
                    }
                ),
                json.dumps(
                    {
                        "type": "server_message_chunk",
                        "segment_id": 0,
                        "segment_count": 2,
                        "message_size_bytes": 2 * 1024 * 1024,
                        "message_chunk_base64": "e30=",
                        "client_id": p.client_id,
                        "stream_id": env.stream_id,
                        "seq_id": 1,
                    }
                ),
                b"\x00binary",
            ]
            for frame in bad_frames:
                await dws.send(frame)
            await b.service.events.wait_for(
                lambda: (
                    sum(e.kind == "protocol_violation" for e in b.service.events.events[before:])
                    == len(bad_frames)
                ),
                TIMEOUT,
            )
            good = rp.ServerMessage(
                message={"ok": True}, client_id=p.client_id, stream_id=env.stream_id or "", seq_id=1
            )
            await dws.send(rp.encode(good))
            assert (await p.recv())["message"] == {"ok": True}

    with_backend(body)


def test_bad_phone_frames_get_errors_and_oversize_frames_close_only_that_socket() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with (
            daemon_socket(b, daemon) as dws,
            phone(b, dana, daemon) as p,
            phone(b, dana, daemon) as other,
        ):
            for frame in (
                "nope",
                "[1]",
                json.dumps({"type": "warp"}),
                json.dumps({"type": "client_message"}),
                json.dumps({"type": "ack", "seq_id": "1"}),
            ):
                await p.ws.send(frame)
                reply = await p.recv()
                assert (reply["type"], reply["code"]) == ("error", "protocol_violation")
            await p.send({"type": "client_message", "message": {"id": 9, "method": "still-works"}})
            assert rp.parse_client_envelope(await dws.recv()).message == {"id": 9, "method": "still-works"}

            await p.ws.send("x" * (backend_relay.MAX_FRAME_BYTES + 1))
            assert await recv_close(p.ws) == 1009
            closed = rp.parse_client_envelope(await dws.recv())
            assert isinstance(closed, rp.ClientClosed) and closed.client_id == p.client_id
            await other.send({"type": "client_message", "message": {"id": 1, "method": "fine"}})
            assert rp.parse_client_envelope(await dws.recv()).client_id == other.client_id

    with_backend(body)


# ------------------------------------------------------------------------------------------------ faults


def test_drop_daemon_and_delivery_delay_faults() -> None:
    async def body(b: Backend) -> None:
        dana, daemon = await setup(b)
        async with phone(b, dana, daemon) as p:
            async with daemon_socket(b, daemon) as dws:
                await p.recv()  # online
                assert await b.service.drop_daemon(daemon.environment_id)
                assert not b.service.relay.daemon_connected(daemon.environment_id)
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(dws.recv(), TIMEOUT)
            assert await p.recv() == {"type": "host_status", "status": "offline"}
            b.service.set_delivery_delay(0.3)
            async with daemon_socket(b, daemon) as dws:
                await p.recv()
                loop = asyncio.get_running_loop()
                started = loop.time()
                await p.send({"type": "client_message", "message": {"id": 1, "method": "slow"}})
                await dws.recv()
                assert loop.time() - started >= 0.3

    with_backend(body)
