"""The remote-token rule: which WebSocket URLs may carry a bearer token, and the real refusal texts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.login.remote_token_rule import (
    RemoteTokenRefused,
    check_client_url,
    check_tui_remote,
    read_token_env,
    token_allowed,
)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("wss://codex.example.com", True),
        ("wss://10.0.0.1:4500", True),
        ("WSS://host", True),
        ("ws://127.0.0.1:4500", True),
        ("ws://127.9.9.9:4500", True),
        ("ws://LOCALHOST:1", True),
        ("ws://[::1]:4500", True),
        ("ws://[::ffff:127.0.0.1]:4500", False),  # IPv4-mapped is not ::1
        ("ws://localhost.example.com:1", False),
        ("ws://10.0.0.1:4500", False),
        ("http://127.0.0.1:4500", False),
        ("unix:///tmp/sock", False),
        ("wss://", False),
        ("", False),
    ],
)
def test_rule(url: str, allowed: bool) -> None:
    assert token_allowed(url) is allowed


def test_client_refusal_is_the_real_text() -> None:
    with pytest.raises(RemoteTokenRefused) as refused:
        check_client_url("ws://example.invalid:4500")
    assert refused.value.message == (
        "remote auth tokens require `wss://` or loopback `ws://` URLs; got `ws://example.invalid:4500`"
    )


def test_tui_texts() -> None:
    with pytest.raises(RemoteTokenRefused, match=r"^`--remote-auth-token-env` requires `--remote`\.$"):
        check_tui_remote(None)
    with pytest.raises(RemoteTokenRefused) as refused:
        check_tui_remote("ws://192.0.2.1:4500")
    assert refused.value.message == "`--remote-auth-token-env` requires a `wss://` or loopback `ws://` remote."
    check_tui_remote("ws://127.0.0.2:4500")


def test_token_env() -> None:
    assert read_token_env("T", {"T": "  abc \n"}) == "abc"
    with pytest.raises(RemoteTokenRefused, match="environment variable `T` is not set"):
        read_token_env("T", {})
    with pytest.raises(RemoteTokenRefused, match="environment variable `T` is empty"):
        read_token_env("T", {"T": "  "})


@given(st.text())
def test_any_text_gives_a_verdict_or_the_typed_refusal(url: str) -> None:
    verdict = token_allowed(url)
    try:
        check_client_url(url)
    except RemoteTokenRefused:
        assert not verdict
    else:
        assert verdict
