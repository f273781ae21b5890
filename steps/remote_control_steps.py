"""Steps for the wire-level checks of features/conformance (enrollment, pairing start, a phone through the relay,
the refusal bodies and status values) and the CLI line of features/remote_control, with our mock daemon or the real
one behind the desktop (`--daemon mock|codex`)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from pytest_bdd import parsers, then, when

from steps.copy import quotes_copy

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"
MANUAL_CODE = re.compile(r"[A-Z]{4}-[0-9]{4}")
# The daemon's failure line for a refused enrollment (or renewal), as both daemons log it (docs/protocol.md §2.6).
REFUSAL_LINE = (r"remote control server (?:enrollment|refresh) failed at `[^`]+wham/remote/control/server/"
                r"(?:enroll|refresh)`: HTTP 403 Forbidden, request-id: [^,]+, cf-ray: [^,]+, body: ")


@then(parsers.re(
    r"the backend enrolled the Mac for (?P<name>\w+)'s workspace, under the daemon's installation id and server name"
))
def backend_enrolled(world: World, name: str) -> None:
    status = world.mac().request("remoteControl/status/read")
    environments = world.backend.environments()
    expected = {
        "chatgpt_account_id": world.person(name).workspace_ids["Personal"],
        "installation_id": status["installationId"],
        "server_name": status["serverName"],
        "environment_id": status["environmentId"],
        "daemon_connected": True,
    }
    assert [{key: env[key] for key in expected} for env in environments] == [expected], environments


@when("the desktop asks the Mac's daemon for a pairing code with a code to type")
def ask_for_pairing_code(world: World, ctx: ScenarioContext) -> None:
    ctx.rpc_result = world.mac().request("remoteControl/pairing/start", {"manualCode": True})


def _pairing(ctx: ScenarioContext) -> dict[str, Any]:
    result = ctx.rpc_result
    assert isinstance(result, dict), f"the daemon answered {result!r}"
    return result


@then("the daemon answers with a pairing code for its environment")
def pairing_code_for_environment(world: World, ctx: ScenarioContext) -> None:
    result = _pairing(ctx)
    assert set(result) == {"pairingCode", "manualPairingCode", "environmentId", "expiresAt"}, sorted(result)
    assert isinstance(result["pairingCode"], str) and len(result["pairingCode"]) >= 16
    assert result["environmentId"] == world.mac().environment_id


@then(parsers.parse('the code to type looks like "{example}"'))
def manual_code_shape(ctx: ScenarioContext, example: str) -> None:
    assert MANUAL_CODE.fullmatch(example), f"the feature's example {example!r} is not a code to type"
    code = _pairing(ctx)["manualPairingCode"]
    assert isinstance(code, str) and MANUAL_CODE.fullmatch(code), "the code to type has the wrong shape"


@then(parsers.parse("the pairing code expires in {minutes:d} minutes, in unix seconds"))
def pairing_expiry(world: World, ctx: ScenarioContext, minutes: int) -> None:
    expires_at = _pairing(ctx)["expiresAt"]
    assert isinstance(expires_at, int), f"expiresAt is {type(expires_at).__name__}, not unix seconds"
    assert abs(expires_at - (world.clock.now() + minutes * 60)) <= 5, expires_at


@then(parsers.re(rf"{PRONOUN} phone initialized the Mac's daemon through the relay and read its threads"))
def phone_talked_to_daemon(world: World, ctx: ScenarioContext) -> None:
    outcome = ctx.last_outcome()
    assert outcome.host_name == world.mac().server_name, outcome.host_name
    assert outcome.thread_count is not None, "the phone never read the Mac's threads"
    answered = [entry for entry in world.trace if entry.get("kind") == "ws_frame"
                and entry.get("direction") == "received" and _is_initialize_answer(entry)]
    assert answered, "the daemon's answer to initialize never reached the phone"


def _is_initialize_answer(entry: dict[str, Any]) -> bool:
    frame = entry.get("frame")
    if isinstance(frame, str):
        try:
            frame = json.loads(frame)
        except ValueError:
            return False
    message = frame.get("message") if isinstance(frame, dict) else None
    return isinstance(message, dict) and message.get("id") == 1 and "userAgent" in (message.get("result") or {})


@then("the Mac's daemon logs the refusal with the backend's response body")
def daemon_logged_refusal(world: World) -> None:
    body = world.mac().last_enrollment_response()
    assert body is not None
    line = world.mac().wait_for_daemon_log(REFUSAL_LINE + re.escape(body[1]))
    assert line is not None, f"the daemon logged: {world.mac().daemon_log()}"


@then(parsers.re(rf'Codex on {PRONOUN} Mac reports the remote-control status "(?P<status>[a-z_]+)"'))
def desktop_status_is(world: World, status: str) -> None:
    assert world.mac().wait_settled() == status


@then("the backend refuses to enroll the Mac because multi-factor authentication is required:")
def enrollment_refused_for_mfa(world: World, docstring: str) -> None:
    # The docstring is the seed's response body, quoted verbatim on purpose. Today's backend sends exactly it; the
    # typed-error fix adds a `code` (and a message) beside the same `detail`.
    seed = json.loads(docstring)
    response = world.mac().last_enrollment_response()
    assert response is not None, "the Mac never asked the backend to enroll it"
    status, body = response
    assert status == 403, f"enrollment answered HTTP {status}"
    sent = json.loads(body)
    if world.profile == "legacy":
        assert sent == seed
    else:
        assert sent["detail"] == seed["detail"] and sent["code"] == "mfa_required", sent


@then(parsers.re(r"the backend refused to enroll the Mac with HTTP (?P<status>\d+) and the body '(?P<body>[^']+)'"))
def enrollment_refused_with(world: World, status: str, body: str) -> None:
    response = world.mac().last_enrollment_response()
    assert response is not None, "the Mac never asked the backend to enroll it"
    assert (response[0], json.loads(response[1])) == (int(status), json.loads(body)), response


@then(parsers.re(quotes_copy(rf'"codex remote-control" on {PRONOUN} Mac says "(?P<copy>[^"]+)"')))
def cli_says(world: World, copy: str) -> None:
    returncode, line = world.mac().remote_control_cli()
    expected = copy.replace("{server name}", world.mac().server_name)
    assert line.removeprefix("Error: ") == expected, line
    assert returncode == 1, f"the command exited with {returncode}"
