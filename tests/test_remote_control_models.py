"""Remote-control HTTP API: models, URL rules, timestamps, the daemon's failure messages, and redaction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.datastructures import Headers

from simulators.protocol.errors import PairsimError
from simulators.protocol.redaction import (
    BODY_PREVIEW_MAX_BYTES,
    MASK,
    redact_body,
    redact_headers,
    redact_secrets,
    redact_url,
)
from simulators.protocol.remote_control import (
    AUTH_RECOVERY_SUFFIX,
    ENROLL_PATH,
    PAIR_PATH,
    PAIR_STATUS_BOTH_CODES,
    PAIR_STATUS_NO_CODE,
    PAIR_STATUS_PATH,
    REFRESH_PATH,
    RELAY_WEBSOCKET_PATH,
    ClientListItem,
    ClientListOrder,
    ClientListPage,
    ClientListQuery,
    EnrollRequest,
    EnrollResponse,
    HttpFailureKind,
    InvalidFieldError,
    InvalidRemoteControlUrlError,
    InvalidTimestampError,
    MalformedBodyError,
    MissingFieldError,
    PairRequest,
    PairResponse,
    PairStatusRequest,
    PairStatusRequestError,
    PairStatusResponse,
    RefreshRequest,
    RefreshResponse,
    RemoteControlEndpoints,
    RemoteControlOperation,
    classify_http_failure,
    client_list_path,
    client_path,
    decode_failure_message,
    format_rfc3339,
    http_failure,
    http_failure_message,
    join_base,
    mismatched_enrollment_message,
    normalize_base_url,
    parse_body,
    parse_rfc3339,
    relay_websocket_url,
    status_text,
    websocket_auth_failure_message,
    websocket_connect_failure_message,
)

ENROLL_URL = "https://chatgpt.com/backend-api/wham/remote/control/server/enroll"
URL_RULE = "; expected HTTPS URL for chatgpt.com or chatgpt-staging.com, or HTTP/HTTPS URL for localhost"


# --- paths and URLs ---------------------------------------------------------------------------------------------


def test_endpoint_paths() -> None:
    assert ENROLL_PATH == "wham/remote/control/server/enroll"
    assert REFRESH_PATH == "wham/remote/control/server/refresh"
    assert PAIR_PATH == "wham/remote/control/server/pair"
    assert PAIR_STATUS_PATH == "wham/remote/control/server/pair/status"
    assert RELAY_WEBSOCKET_PATH == "wham/remote/control/server"
    assert client_list_path("env-1") == "wham/remote/control/environments/env-1/clients"
    assert client_path("env-1", "client-9") == "wham/remote/control/environments/env-1/clients/client-9"


def test_ids_in_paths_are_percent_encoded_like_the_daemon() -> None:
    assert client_list_path("env /?") == "wham/remote/control/environments/env%20%2F%3F/clients"
    assert client_path("env /?", "client /?").endswith("/clients/client%20%2F%3F")
    assert client_path("é", "a#b%").endswith("/%C3%A9/clients/a%23b%25")


def test_client_list_query_encoding() -> None:
    query = ClientListQuery(cursor="cursor /?", limit=10, order=ClientListOrder.ASC)
    assert query.to_query() == "cursor=cursor+%2F%3F&limit=10&order=asc"
    assert ClientListQuery().to_query() == ""
    assert ClientListQuery.from_query({"cursor": "cursor /?", "limit": "10", "order": "asc"}) == query


@pytest.mark.parametrize("limit", [0, 101, True, "10"])
def test_client_list_query_limit_bounds(limit: Any) -> None:
    with pytest.raises(InvalidFieldError):
        ClientListQuery(limit=limit)


@pytest.mark.parametrize("params", [{"limit": "abc"}, {"limit": "0"}, {"order": "random"}])
def test_client_list_query_from_bad_params(params: dict[str, str]) -> None:
    with pytest.raises(InvalidFieldError):
        ClientListQuery.from_query(params)


@pytest.mark.parametrize(
    ("base", "path", "joined"),
    [
        (
            "http://127.0.0.1:45050/backend-api/",
            ENROLL_PATH,
            "http://127.0.0.1:45050/backend-api/" + ENROLL_PATH,
        ),
        (
            "http://127.0.0.1:45050/backend-api",
            ENROLL_PATH,
            "http://127.0.0.1:45050/backend-api/" + ENROLL_PATH,
        ),
        ("https://chatgpt.com", PAIR_PATH, "https://chatgpt.com/" + PAIR_PATH),
        ("https://chatgpt.com/backend-api?x=1#f", PAIR_PATH, "https://chatgpt.com/backend-api/" + PAIR_PATH),
        ("http://localhost/api/", "a/b?c=d", "http://localhost/api/a/b?c=d"),
    ],
)
def test_join_base_adds_the_trailing_slash(base: str, path: str, joined: str) -> None:
    assert join_base(base, path) == joined


def test_endpoints_for_the_local_mock_and_production() -> None:
    local = RemoteControlEndpoints.from_base("http://127.0.0.1:45050/backend-api/")
    assert local.enroll_url == "http://127.0.0.1:45050/backend-api/wham/remote/control/server/enroll"
    assert (
        local.pair_status_url == "http://127.0.0.1:45050/backend-api/wham/remote/control/server/pair/status"
    )
    assert local.websocket_url == "ws://127.0.0.1:45050/backend-api/wham/remote/control/server"
    assert local.client_list_url("env-1") == (
        "http://127.0.0.1:45050/backend-api/wham/remote/control/environments/env-1/clients"
    )
    production = RemoteControlEndpoints.from_base("https://chatgpt.com/backend-api")
    assert production.refresh_url == "https://chatgpt.com/backend-api/wham/remote/control/server/refresh"
    assert production.websocket_url == "wss://chatgpt.com/backend-api/wham/remote/control/server"
    assert relay_websocket_url("https://localhost:8443/backend-api") == (
        "wss://localhost:8443/backend-api/wham/remote/control/server"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://chatgpt.com/backend-api",
        "https://api.chatgpt-staging.com/backend-api",
        "https://CHATGPT.COM/backend-api",
        "http://localhost:8080/backend-api",
        "https://localhost:8443/backend-api",
        "http://127.0.0.1:1/backend-api/",
        "http://127.0.0.2/backend-api",
        "http://127.1/x",
        "http://[::1]:9/x",
    ],
)
def test_allowed_base_urls(url: str) -> None:
    assert normalize_base_url(url).endswith("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://chatgpt.com/backend-api",
        "http://example.com/backend-api",
        "https://example.com/backend-api",
        "https://chat.openai.com/backend-api",
        "https://chatgpt.com.evil.com/backend-api",
        "https://evilchatgpt.com/backend-api",
        "https://foo.localhost/backend-api",
        "http://10.0.0.1/backend-api",
        "http://[::ffff:127.0.0.1]/x",
        "ftp://localhost/x",
        "https://localhost./x",
    ],
)
def test_rejected_base_urls_carry_the_daemons_exact_text(url: str) -> None:
    with pytest.raises(InvalidRemoteControlUrlError) as caught:
        normalize_base_url(url)
    assert str(caught.value) == f"invalid remote control URL `{url}`" + URL_RULE
    with pytest.raises(InvalidRemoteControlUrlError):
        RemoteControlEndpoints.from_base(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("chatgpt.com/backend-api", "relative URL without a base"),
        ("http://localhost:99999/", "invalid port number"),
        ("http:///x", "empty host"),
        ("http://256.0.0.1/", "invalid IPv4 address"),
    ],
)
def test_unparseable_base_urls(url: str, reason: str) -> None:
    with pytest.raises(InvalidRemoteControlUrlError) as caught:
        normalize_base_url(url)
    assert str(caught.value) == f"invalid remote control URL `{url}`: {reason}"


@settings(deadline=None)
@given(st.text(max_size=60))
def test_any_base_url_is_accepted_or_refused_with_a_typed_error(url: str) -> None:
    try:
        normalized = normalize_base_url(url)
    except PairsimError:
        return
    assert normalized.startswith(("http://", "https://")) and normalized.endswith("/")


# --- timestamps -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unix"),
    [
        ("2026-03-05T07:00:00Z", 1_772_694_000),
        ("2026-03-05t07:00:00z", 1_772_694_000),
        ("2026-03-05T09:00:00+02:00", 1_772_694_000),
        ("2026-03-05T06:30:00-00:30", 1_772_694_000),
        ("2026-03-05T07:00:00.999Z", 1_772_694_000),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.5Z", -1),
    ],
)
def test_parse_rfc3339(text: str, unix: int) -> None:
    assert parse_rfc3339(text) == unix


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-05 07:00:00Z",
        "2026-03-05T07:00:00",
        "2026-02-30T00:00:00Z",
        "2026-03-05T24:00:00Z",
        "2026-03-05T23:59:60Z",
        "2026-03-05T07:00:00+24:00",
        "2026-03-05T07:00Z",
        "1795274343",
        "２０２６-03-05T07:00:00Z",
        "",
    ],
)
def test_parse_rfc3339_is_strict(text: str) -> None:
    with pytest.raises(InvalidTimestampError):
        parse_rfc3339(text)


def test_format_rfc3339() -> None:
    assert format_rfc3339(1_772_694_000) == "2026-03-05T07:00:00Z"
    assert format_rfc3339(0) == "1970-01-01T00:00:00Z"
    with pytest.raises(InvalidTimestampError):
        format_rfc3339(1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidTimestampError):
        format_rfc3339(10**12)


@settings(deadline=None)
@given(st.integers(min_value=-62_135_596_800, max_value=253_402_300_799))
def test_rfc3339_round_trip(unix: int) -> None:
    assert parse_rfc3339(format_rfc3339(unix)) == unix


@settings(deadline=None)
@given(st.text(max_size=40))
def test_parse_rfc3339_arbitrary_text_is_total(text: str) -> None:
    try:
        unix = parse_rfc3339(text)
    except InvalidTimestampError:
        return
    assert type(unix) is int


# --- models -----------------------------------------------------------------------------------------------------

ENROLL_BODY = {
    "name": "vm",
    "os": "linux",
    "arch": "x86_64",
    "app_server_version": "0.169.0",
    "installation_id": "f0b2a875-0000-4000-8000-000000000001",
}
ENROLLMENT = {
    "server_id": "srv-probe",
    "environment_id": "env-probe",
    "remote_control_token": "rc-secret",
    "expires_at": "2026-11-21T14:39:03Z",
}
PAIRING = {
    "pairing_code": "PAIRCODE-LONG-QR-PAYLOAD",
    "manual_pairing_code": "ABCD-1234",
    "server_id": "srv-probe",
    "environment_id": "env-probe",
    "expires_at": "2026-11-21T14:39:03Z",
}
CLIENT = {
    "client_id": "client-123",
    "account_user_id": "user-123",
    "enrollment_status": "enrolled_device_key",
    "display_name": "Anton Phone",
    "device_type": "phone",
    "platform": "ios",
    "os_version": "19.0",
    "device_model": "iPhone",
    "app_version": "1.2.3",
    "last_seen_at": "2026-03-05T07:00:00Z",
    "last_seen_city": "San Francisco",
}


def test_enroll_request_is_the_observed_body() -> None:
    request = EnrollRequest.from_json(ENROLL_BODY)
    assert request.to_json() == ENROLL_BODY
    assert list(request.to_json()) == list(ENROLL_BODY)
    with_apns = EnrollRequest(**ENROLL_BODY, apns_registration={"token": "t"})
    assert with_apns.to_json()["apns_registration"] == {"token": "t"}


def test_refresh_request_body() -> None:
    body = {"server_id": "srv-probe", "installation_id": "f0b2"}
    assert RefreshRequest.from_json(body).to_json() == body


@pytest.mark.parametrize("model", [EnrollResponse, RefreshResponse])
def test_enroll_and_refresh_responses(model: type[EnrollResponse]) -> None:
    response = model.from_json(ENROLLMENT)
    assert response.to_json() == ENROLLMENT
    assert response.expires_at_unix == parse_rfc3339("2026-11-21T14:39:03Z")
    assert "rc-secret" not in repr(response)
    assert response.needs_refresh(response.expires_at_unix - 30)
    assert not response.needs_refresh(response.expires_at_unix - 31)


@pytest.mark.parametrize("missing", ["remote_control_token", "expires_at", "server_id", "environment_id"])
def test_enroll_response_missing_field_matches_serde_wording(missing: str) -> None:
    body = {key: value for key, value in ENROLLMENT.items() if key != missing}
    with pytest.raises(MissingFieldError) as caught:
        EnrollResponse.from_json(body)
    assert str(caught.value) == f"missing field `{missing}`"
    assert caught.value.field == missing


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({**ENROLLMENT, "remote_control_token": None}, InvalidFieldError),
        ({**ENROLLMENT, "server_id": 5}, InvalidFieldError),
        ({**ENROLLMENT, "expires_at": "tomorrow"}, InvalidTimestampError),
        ({**ENROLLMENT, "expires_at": 1795274343}, InvalidFieldError),
        ([ENROLLMENT], MalformedBodyError),
    ],
)
def test_enroll_response_bad_bodies(body: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        EnrollResponse.from_json(body)


def test_invalid_field_error_does_not_echo_the_value() -> None:
    with pytest.raises(InvalidFieldError) as caught:
        PairResponse.from_json({**PAIRING, "pairing_code": ["SECRET-CODE"]})
    assert "SECRET-CODE" not in str(caught.value)


def test_pair_request_and_response() -> None:
    assert PairRequest.from_json({"manual_code": True}).to_json() == {"manual_code": True}
    with pytest.raises(InvalidFieldError):
        PairRequest.from_json({"manual_code": 1})
    with pytest.raises(MissingFieldError):
        PairRequest.from_json({})
    pairing = PairResponse.from_json(PAIRING)
    assert pairing.to_json() == PAIRING
    assert pairing.expires_at_unix == parse_rfc3339(PAIRING["expires_at"])
    assert "ABCD-1234" not in repr(pairing) and "PAIRCODE" not in repr(pairing)
    without_manual = PairResponse.from_json({k: v for k, v in PAIRING.items() if k != "manual_pairing_code"})
    assert without_manual.manual_pairing_code is None


def test_pair_status_request_exactly_one_code() -> None:
    assert PairStatusRequest(pairing_code="p").to_json() == {"pairing_code": "p"}
    assert (
        PairStatusRequest.from_json({"manual_pairing_code": "ABCD-1234"}).manual_pairing_code == "ABCD-1234"
    )
    with pytest.raises(PairStatusRequestError) as both:
        PairStatusRequest.from_json({"pairing_code": "p", "manual_pairing_code": "m"})
    assert str(both.value) == PAIR_STATUS_BOTH_CODES
    assert str(both.value) == (
        "remoteControl/pairing/status accepts either pairingCode or manualPairingCode, not both"
    )
    with pytest.raises(PairStatusRequestError) as neither:
        PairStatusRequest.from_json({})
    assert str(neither.value) == PAIR_STATUS_NO_CODE
    assert str(neither.value) == "remoteControl/pairing/status requires pairingCode or manualPairingCode"


def test_pair_status_response() -> None:
    assert PairStatusResponse.from_json({"claimed": False}).to_json() == {"claimed": False}
    with pytest.raises(InvalidFieldError):
        PairStatusResponse.from_json({"claimed": "yes"})


def test_client_list_page() -> None:
    page = ClientListPage.from_json({"items": [CLIENT], "cursor": "next-cursor"})
    assert page.to_json() == {"items": [CLIENT], "cursor": "next-cursor"}
    assert page.items[0].last_seen_at_unix == 1_772_694_000
    empty = ClientListPage.from_json({"items": []})
    assert empty.to_json() == {"items": [], "cursor": None}
    minimal = ClientListItem.from_json({"client_id": "c"})
    assert minimal.display_name is None and minimal.last_seen_at_unix is None
    with pytest.raises(MissingFieldError):
        ClientListPage.from_json({"cursor": None})
    with pytest.raises(InvalidFieldError):
        ClientListPage.from_json({"items": {}})
    with pytest.raises(MissingFieldError):
        ClientListPage.from_json({"items": [{"display_name": "x"}]})
    with pytest.raises(InvalidTimestampError):
        ClientListItem.from_json({"client_id": "c", "last_seen_at": "yesterday"})


def test_parse_body() -> None:
    assert parse_body(b'{"claimed": true}') == {"claimed": True}
    for bad in (b"\xff", "{", "NaN", '{"a": Infinity}'):
        with pytest.raises(MalformedBodyError):
            parse_body(bad)


def test_models_refuse_wrong_types_at_construction() -> None:
    with pytest.raises(InvalidFieldError):
        EnrollRequest(**{**ENROLL_BODY, "name": None})  # type: ignore[arg-type]
    with pytest.raises(InvalidFieldError):
        PairStatusResponse(claimed=1)  # type: ignore[arg-type]
    with pytest.raises(InvalidFieldError):
        ClientListPage(items=[ClientListItem(client_id="c")])  # type: ignore[arg-type]


text = st.text(max_size=12)
rfc3339 = st.integers(min_value=0, max_value=4_102_444_800).map(format_rfc3339)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)
models = st.one_of(
    st.builds(
        EnrollRequest,
        name=text,
        os=text,
        arch=text,
        app_server_version=text,
        installation_id=text,
        apns_registration=st.none() | st.dictionaries(text, json_values, max_size=3),
    ),
    st.builds(RefreshRequest, server_id=text, installation_id=text),
    st.builds(
        EnrollResponse, server_id=text, environment_id=text, remote_control_token=text, expires_at=rfc3339
    ),
    st.builds(
        RefreshResponse, server_id=text, environment_id=text, remote_control_token=text, expires_at=rfc3339
    ),
    st.builds(PairRequest, manual_code=st.booleans()),
    st.builds(
        PairResponse,
        pairing_code=text,
        manual_pairing_code=st.none() | text,
        server_id=text,
        environment_id=text,
        expires_at=rfc3339,
    ),
    st.builds(PairStatusRequest, pairing_code=text) | st.builds(PairStatusRequest, manual_pairing_code=text),
    st.builds(PairStatusResponse, claimed=st.booleans()),
    st.builds(
        ClientListPage,
        items=st.lists(
            st.builds(
                ClientListItem,
                client_id=text,
                display_name=st.none() | text,
                last_seen_at=st.none() | rfc3339,
            ),
            max_size=3,
        ).map(tuple),
        cursor=st.none() | text,
    ),
)


@settings(deadline=None)
@given(models)
def test_every_model_round_trips_through_json_text(model: Any) -> None:
    wire = json.dumps(model.to_json())
    again = type(model).from_json(parse_body(wire.encode()))
    assert again == model
    assert again.to_json() == model.to_json()


MODEL_TYPES = [
    EnrollRequest, RefreshRequest, EnrollResponse, RefreshResponse, PairRequest, PairResponse,
    PairStatusRequest, PairStatusResponse, ClientListItem, ClientListPage,
]  # fmt: skip
FIELDS = sorted({*ENROLL_BODY, *ENROLLMENT, *PAIRING, *CLIENT, "manual_code", "claimed", "items", "cursor"})


@settings(deadline=None)
@given(
    st.sampled_from(MODEL_TYPES),
    st.dictionaries(st.sampled_from(FIELDS), json_values | rfc3339, max_size=8) | json_values,
)
def test_every_model_parser_is_total_on_arbitrary_json(model: Any, body: Any) -> None:
    try:
        parsed = model.from_json(body)
    except PairsimError:
        return
    assert isinstance(parsed, model)


@settings(deadline=None)
@given(st.sampled_from(MODEL_TYPES), st.binary(max_size=80))
def test_every_model_parser_is_total_on_arbitrary_bytes(model: Any, data: bytes) -> None:
    try:
        parsed = model.from_json(parse_body(data))
    except PairsimError:
        return
    assert isinstance(parsed, model)


# --- the daemon's failure messages -------------------------------------------------------------------------------


def test_mfa_enroll_failure_message_shape() -> None:
    message = http_failure_message(
        RemoteControlOperation.ENROLL,
        ENROLL_URL,
        403,
        {"X-Request-Id": "5f0e2c9a", "cf-ray": "985c1f2e-ORD"},
        b'{"detail": "Multi-factor authentication required"}',
    )
    assert message == (
        f"remote control server enrollment failed at `{ENROLL_URL}`: HTTP 403 Forbidden, "
        'request-id: 5f0e2c9a, cf-ray: 985c1f2e-ORD, body: {"detail":"Multi-factor authentication required"}'
    )


def test_failure_message_with_no_ids_and_recovery_suffix() -> None:
    message = http_failure_message(RemoteControlOperation.ENROLL, ENROLL_URL, 401, {}, "unauthorized")
    assert message + AUTH_RECOVERY_SUFFIX == (
        f"remote control server enrollment failed at `{ENROLL_URL}`: HTTP 401 Unauthorized, "
        "request-id: <none>, cf-ray: <none>, body: unauthorized; retrying after auth recovery"
    )


def test_request_id_falls_back_to_x_oai_request_id() -> None:
    message = http_failure_message(
        RemoteControlOperation.PAIR, "u", 500, [("x-oai-request-id", "oai-1")], b""
    )
    assert message == (
        "remote control pairing failed at `u`: HTTP 500 Internal Server Error, request-id: oai-1, "
        "cf-ray: <none>, body: <empty>"
    )


def test_request_ids_from_websockets_headers_with_repeated_names() -> None:
    headers = Headers([("X-Request-Id", "first"), ("x-request-id", "second"), ("CF-Ray", "ray")])
    message = http_failure_message(RemoteControlOperation.CLIENT_LIST, "u", 400, headers, "bad")
    assert "request-id: first, cf-ray: ray, body: bad" in message
    assert redact_headers(Headers([("Authorization", "Bearer a"), ("authorization", "Bearer b")])) == {
        "Authorization": f"Bearer {MASK}",
        "authorization": f"Bearer {MASK}",
    }


@pytest.mark.parametrize(
    ("operation", "noun"),
    [
        (RemoteControlOperation.REFRESH, "server refresh"),
        (RemoteControlOperation.PAIR_STATUS, "pairing status"),
        (RemoteControlOperation.CLIENT_LIST, "client list"),
        (RemoteControlOperation.CLIENT_REVOKE, "client revoke"),
    ],
)
def test_failure_messages_for_other_operations(operation: RemoteControlOperation, noun: str) -> None:
    assert http_failure_message(operation, "u", 404, {}, "x").startswith(
        f"remote control {noun} failed at `u`"
    )


def test_failure_message_redacts_secrets_in_the_body() -> None:
    body = json.dumps({"server_id": "srv", "remote_control_token": "rc-secret", "pairing_code": "PC"})
    message = http_failure_message(RemoteControlOperation.REFRESH, "u", 409, {}, body)
    assert "rc-secret" not in message and 'PC"' not in message
    assert f'"remote_control_token":"{MASK}"' in message


def test_decode_failure_message() -> None:
    body = json.dumps({"server_id": "srv_e_test", "environment_id": "env_test"}, separators=(",", ":"))
    message = decode_failure_message(
        RemoteControlOperation.ENROLL, ENROLL_URL, 200, {}, body, "missing field `remote_control_token`"
    )
    assert message == (
        f"failed to parse remote control server enrollment response from `{ENROLL_URL}`: HTTP 200 OK, "
        f"request-id: <none>, cf-ray: <none>, body: {body}, decode error: missing field `remote_control_token`"
    )


def test_websocket_failure_messages() -> None:
    url = "ws://127.0.0.1:9/backend-api/wham/remote/control/server"
    assert websocket_connect_failure_message(url, 503, {}, "upstream unavailable") == (
        f"failed to connect app-server remote control websocket `{url}`: HTTP error: 503 Service Unavailable, "
        "request-id: <none>, cf-ray: <none>, body: upstream unavailable"
    )
    assert websocket_connect_failure_message(url, 502, {}, b"").endswith("cf-ray: <none>")
    assert websocket_auth_failure_message(401) == (
        "remote control websocket auth failed with HTTP 401 Unauthorized; refreshing server token before reconnect"
    )


def test_mismatched_enrollment_message() -> None:
    assert mismatched_enrollment_message(
        RemoteControlOperation.REFRESH,
        expected_server_id="a",
        expected_environment_id="b",
        got_server_id="c",
        got_environment_id="d",
    ) == (
        "remote control server refresh returned mismatched enrollment: expected server_id=a, environment_id=b; "
        "got server_id=c, environment_id=d"
    )


def test_status_text_uses_the_daemons_reason_phrases() -> None:
    assert status_text(403) == "403 Forbidden"
    assert status_text(413) == "413 Payload Too Large"
    assert status_text(422) == "422 Unprocessable Entity"
    assert status_text(599) == "599 <unknown status code>"


@pytest.mark.parametrize(
    ("status", "operation", "kind"),
    [
        (401, RemoteControlOperation.ENROLL, HttpFailureKind.PERMISSION_DENIED),
        (403, RemoteControlOperation.ENROLL, HttpFailureKind.PERMISSION_DENIED),
        (404, RemoteControlOperation.ENROLL, HttpFailureKind.NOT_FOUND),
        (404, RemoteControlOperation.REFRESH, HttpFailureKind.NOT_FOUND),
        (400, RemoteControlOperation.ENROLL, HttpFailureKind.OTHER),
        (429, RemoteControlOperation.PAIR, HttpFailureKind.OTHER),
        (500, RemoteControlOperation.ENROLL, HttpFailureKind.OTHER),
        (404, RemoteControlOperation.PAIR_STATUS, HttpFailureKind.INVALID_INPUT),
        (410, RemoteControlOperation.PAIR_STATUS, HttpFailureKind.INVALID_INPUT),
        (403, RemoteControlOperation.PAIR_STATUS, HttpFailureKind.PERMISSION_DENIED),
        (400, RemoteControlOperation.CLIENT_LIST, HttpFailureKind.INVALID_INPUT),
        (404, RemoteControlOperation.CLIENT_REVOKE, HttpFailureKind.NOT_FOUND),
    ],
)
def test_http_failure_classification(
    status: int, operation: RemoteControlOperation, kind: HttpFailureKind
) -> None:
    assert classify_http_failure(status, operation) is kind


def test_http_failure_error_carries_kind_and_safe_message() -> None:
    error = http_failure(RemoteControlOperation.PAIR, "u", 403, {}, '{"pairing_code":"QR-SECRET"}')
    assert isinstance(error, PairsimError)
    assert error.kind is HttpFailureKind.PERMISSION_DENIED and error.status == 403
    assert "QR-SECRET" not in str(error)


# --- redaction --------------------------------------------------------------------------------------------------


def test_redact_body_trims_and_marks_empty() -> None:
    assert redact_body("  \n plain text \t ") == "plain text"
    assert redact_body(b"   ") == "<empty>"
    assert redact_body(b"\xffok") == "\ufffdok"


def test_redact_body_masks_secret_fields_at_any_depth() -> None:
    body = {
        "server_id": "srv",
        "remote_control_token": "secret-1",
        "nested": {"pairing_code": "secret-2", "list": [{"manual_pairing_code": "secret-3"}]},
    }
    preview = redact_body(json.dumps(body, indent=2))
    assert json.loads(preview) == {
        "server_id": "srv",
        "remote_control_token": MASK,
        "nested": {"pairing_code": MASK, "list": [{"manual_pairing_code": MASK}]},
    }
    assert "secret" not in preview


def test_redact_body_leaves_non_json_alone() -> None:
    assert redact_body('{"remote_control_token": oops') == '{"remote_control_token": oops'


def test_redact_body_caps_at_4096_bytes_on_a_character_boundary() -> None:
    assert redact_body("a" * 4096) == "a" * 4096
    capped = redact_body("a" * 4095 + "é" + "z" * 10)
    assert capped == "a" * 4095 + "..."
    assert len(capped.encode()) <= BODY_PREVIEW_MAX_BYTES + 3


@settings(deadline=None)
@given(st.binary(max_size=5000) | st.text(max_size=5000).map(str.encode))
def test_redact_body_is_total_and_bounded(body: bytes) -> None:
    preview = redact_body(body)
    assert len(preview.encode("utf-8", errors="surrogatepass")) <= BODY_PREVIEW_MAX_BYTES + 3


@settings(deadline=None)
@given(st.text(min_size=4, max_size=30))
def test_redact_body_never_shows_a_secret_field_value(secret: str) -> None:
    for key in ("remote_control_token", "pairing_code", "manual_pairing_code"):
        preview = redact_body(json.dumps({"a": [{key: secret}], "b": 1}))
        assert json.loads(preview)["a"][0][key] == MASK


def test_redact_secrets_masks_credential_keys_in_any_spelling() -> None:
    trace = {
        "access_token": "a",
        "refreshToken": "b",
        "id_token": "c",
        "Authorization": "Bearer d",
        "password": "e",
        "code": "f",
        "totpSecret": "g",
        "client-session-token": "h",
        "pairingCode": "i",
        "deep": [{"remote_control_token": "j"}, ("k", {"manualPairingCode": "l"})],
        "email": "dana@example.com",
        "state": "st",
        "absent_token": None,
        "token": None,
    }
    redacted = redact_secrets(trace)
    assert redacted == {
        "access_token": MASK,
        "refreshToken": MASK,
        "id_token": MASK,
        "Authorization": MASK,
        "password": MASK,
        "code": MASK,
        "totpSecret": MASK,
        "client-session-token": MASK,
        "pairingCode": MASK,
        "deep": [{"remote_control_token": MASK}, ["k", {"manualPairingCode": MASK}]],
        "email": "dana@example.com",
        "state": "st",
        "absent_token": None,
        "token": None,
    }
    assert trace["access_token"] == "a"


def test_redact_headers_keeps_the_scheme_and_hides_the_credential() -> None:
    headers = {
        "Authorization": "Bearer eyJsecret",
        "x-codex-client-session-token": "Bearer controller-secret",
        "Cookie": "session=abc; other=def",
        "chatgpt-account-id": "acct-1",
    }
    assert redact_headers(headers) == {
        "Authorization": f"Bearer {MASK}",
        "x-codex-client-session-token": f"Bearer {MASK}",
        "Cookie": MASK,
        "chatgpt-account-id": "acct-1",
    }
    assert redact_headers([("authorization", "opaque")]) == {"authorization": MASK}


def test_redact_url_masks_oauth_code_in_a_callback() -> None:
    url = "http://localhost:1455/auth/callback?code=oauth-secret&state=xyz"
    redacted = redact_url(url)
    assert "oauth-secret" not in redacted
    assert redacted == f"http://localhost:1455/auth/callback?code={MASK}&state=xyz"
    assert redact_url("http://localhost:1455/cancel") == "http://localhost:1455/cancel"
