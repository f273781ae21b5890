"""The pairing link: what a phone accepts from a QR code, what it refuses, and why."""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from simulators.protocol.errors import ErrorCode, PairsimError
from simulators.protocol.pairing_link import (
    LINK_PATH,
    NotAPairingLink,
    PairingLink,
    UnsupportedLinkVersion,
    canonical_origin,
    parse_pairing_link,
)

# Distinctive, so a test can prove that no error message ever repeats it.
SECRET_CODE = "SeCrEtPairingCode_0123456789-xyz"
BASE = "https://chatgpt.com/codex/remote/pair"
VALID = f"{BASE}?v=1&code={SECRET_CODE}&env=env_abc:1.2-3&name=Dana%27s+MacBook&exp=1800000600"


def link_with(query: str, base: str = BASE) -> str:
    return f"{base}?{query}"


def good_query(**overrides: str | None) -> str:
    fields: dict[str, str | None] = {
        "v": "1",
        "code": SECRET_CODE,
        "env": "env_1",
        "name": "Dana%27s+Mac",
        "exp": "1800000600",
    }
    fields.update(overrides)
    return "&".join(f"{name}={value}" for name, value in fields.items() if value is not None)


def test_a_valid_link_gives_every_field() -> None:
    link = parse_pairing_link(VALID)
    assert link == PairingLink(
        origin="https://chatgpt.com",
        pairing_code=SECRET_CODE,
        environment_id="env_abc:1.2-3",
        server_name="Dana's MacBook",
        expires_at=1_800_000_600,
    )
    assert link.version == 1
    assert link.backend_base_url == "https://chatgpt.com/backend-api/"


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        (link_with(good_query()), "https://chatgpt.com"),
        (link_with(good_query(), "https://ios.chatgpt.com/codex/remote/pair"), "https://ios.chatgpt.com"),
        (
            link_with(good_query(), "https://chatgpt-staging.com/codex/remote/pair"),
            "https://chatgpt-staging.com",
        ),
        (
            link_with(good_query(), "https://a.b-c.chatgpt-staging.com/codex/remote/pair"),
            "https://a.b-c.chatgpt-staging.com",
        ),
        (link_with(good_query(), "https://chatgpt.com:8443/codex/remote/pair"), "https://chatgpt.com:8443"),
        (link_with(good_query(), "HTTPS://ChatGPT.com/codex/remote/pair"), "https://chatgpt.com"),
        (link_with(good_query(), "http://localhost:8080/codex/remote/pair"), "http://localhost:8080"),
        (link_with(good_query(), "https://localhost/codex/remote/pair"), "https://localhost"),
        (link_with(good_query(), "http://127.0.0.1:41234/codex/remote/pair"), "http://127.0.0.1:41234"),
        (link_with(good_query(), "http://127.9.8.7:1/codex/remote/pair"), "http://127.9.8.7:1"),
        (link_with(good_query(), "http://[::1]:65535/codex/remote/pair"), "http://[::1]:65535"),
    ],
)
def test_accepted_origins(text: str, origin: str) -> None:
    link = parse_pairing_link(text)
    assert link.origin == origin
    assert link.backend_base_url == f"{origin}/backend-api/"


@pytest.mark.parametrize(
    ("query", "attribute", "value"),
    [
        (good_query(code="a" * 16), "pairing_code", "a" * 16),
        (good_query(code="Z9_-" * 32), "pairing_code", "Z9_-" * 32),
        (good_query(env="e"), "environment_id", "e"),
        (good_query(env="A" * 128), "environment_id", "A" * 128),
        (good_query(name="x"), "server_name", "x"),
        (good_query(name="%C3%9Cml%C3%A4ut+%F0%9F%92%BB"), "server_name", "Ümläut 💻"),
        (good_query(name="a%20b+c"), "server_name", "a b c"),
        (good_query(name="%26%3D%23%25"), "server_name", "&=#%"),
        (good_query(name="n" * 255), "server_name", "n" * 255),
        (good_query(exp="0"), "expires_at", 0),
        (good_query(exp="9" * 12), "expires_at", 999_999_999_999),
        ("exp=5&name=n&env=e&code=" + SECRET_CODE + "&v=1", "expires_at", 5),
    ],
)
def test_accepted_field_values(query: str, attribute: str, value: object) -> None:
    assert getattr(parse_pairing_link(link_with(query)), attribute) == value


# Every way a text can fail to be a pairing link, with the words the engineer reads in the error.
NOT_A_LINK = [
    ("", "empty"),
    ("hello there", "characters that cannot appear in a URL"),
    ("just-some-text", "not an http or https URL"),
    ("x" * 9000, "too long"),
    (VALID.replace("https://", "ftp://"), "scheme 'ftp'"),
    (VALID.replace("https://", "codex://"), "scheme 'codex'"),
    (VALID.replace("https://chatgpt.com", "http://chatgpt.com"), "not a backend origin"),
    (VALID.replace("chatgpt.com", "example.com"), "not a backend origin"),
    (VALID.replace("chatgpt.com", "evilchatgpt.com"), "not a backend origin"),
    (VALID.replace("chatgpt.com", "chatgpt.com.evil.example"), "not a backend origin"),
    (VALID.replace("chatgpt.com", "chat.openai.com"), "not a backend origin"),
    (VALID.replace("chatgpt.com", "-bad-.chatgpt.com"), "not a backend origin"),
    (VALID.replace("https://chatgpt.com", "http://10.0.0.1"), "not a backend origin"),
    (VALID.replace("https://chatgpt.com", "http://[::ffff:127.0.0.1]"), "not a backend origin"),
    (VALID.replace("https://chatgpt.com", "http://127.1"), "not a backend origin"),
    (VALID.replace("https://chatgpt.com", "http://[zz]"), "not a well-formed URL"),
    (VALID.replace("https://chatgpt.com", "http://localhost:"), "plain form"),
    (VALID.replace("https://chatgpt.com", "http://localhost:080"), "plain form"),
    (VALID.replace("https://chatgpt.com", "http://localhost:0"), "port 0"),
    (VALID.replace("https://chatgpt.com", "http://localhost:70000"), "port is not a number"),
    (VALID.replace("https://chatgpt.com", "https://"), "no host"),
    (VALID.replace("https://", "https://dana@"), "user information"),
    (VALID.replace("https://", "https://dana:pw@"), "user information"),
    (VALID + "#frag", "fragment"),
    (VALID + "#", "fragment"),
    (VALID.replace("/codex/remote/pair", "/codex/remote/pair/"), "path"),
    (VALID.replace("/codex/remote/pair", "/codex/remote/Pair"), "path"),
    (VALID.replace("/codex/remote/pair", "/prefix/codex/remote/pair"), "path"),
    (VALID.replace("/codex/remote/pair", "/codex/remote/p%61ir"), "path"),
    (BASE, "no query"),
    (BASE + "?", "no query"),
    (link_with(good_query(v=None)), "missing field(s): v"),
    (link_with(good_query(code=None)), "missing field(s): code"),
    (link_with(good_query(env=None, exp=None)), "missing field(s): env, exp"),
    (link_with(good_query(name=None)), "missing field(s): name"),
    (link_with(good_query() + "&v=1"), "more than once: 'v'"),
    (link_with(good_query() + "&code=AAAAAAAAAAAAAAAAAAAA"), "more than once: 'code'"),
    (link_with(good_query() + "&name=other"), "more than once: 'name'"),
    (link_with(good_query() + "&extra=1"), "unexpected field(s): 'extra'"),
    (link_with(good_query() + "&&"), "name=value"),
    (link_with(good_query() + "&novalue"), "name=value"),
    (link_with(good_query(name="%FF%FE")), "UTF-8"),
    (link_with(good_query(name="100%")), "percent-escape"),
    (link_with(good_query(name="%zz")), "percent-escape"),
    (link_with(good_query(v="")), "'v' is not a decimal integer"),
    (link_with(good_query(v="one")), "'v' is not a decimal integer"),
    (link_with(good_query(v="-1")), "'v' is not a decimal integer"),
    (link_with(good_query(v="01")), "'v' is not a decimal integer"),
    (link_with(good_query(v="1.0")), "'v' is not a decimal integer"),
    (link_with(good_query(code="")), "'code' must be 16-128"),
    (link_with(good_query(code="a" * 15)), "'code' must be 16-128"),
    (link_with(good_query(code="a" * 129)), "'code' must be 16-128"),
    (link_with(good_query(code=SECRET_CODE + ".")), "'code' must be 16-128"),
    (link_with(good_query(code=SECRET_CODE + "+x")), "'code' must be 16-128"),
    (link_with(good_query(env="")), "'env' must be 1-128"),
    (link_with(good_query(env="e" * 129)), "'env' must be 1-128"),
    (link_with(good_query(env="env/1")), "'env' must be 1-128"),
    (link_with(good_query(env="env+1")), "'env' must be 1-128"),
    (link_with(good_query(name="")), "'name' must be 1-255"),
    (link_with(good_query(name="n" * 256)), "'name' must be 1-255"),
    (link_with(good_query(name="tab%09here")), "'name' must be 1-255"),
    (link_with(good_query(name="new%0Aline")), "'name' must be 1-255"),
    (link_with(good_query(name="nul%00")), "'name' must be 1-255"),
    (link_with(good_query(name="bidi%E2%80%AEtxt")), "'name' must be 1-255"),
    (link_with(good_query(exp="")), "'exp' must be a non-negative integer"),
    (link_with(good_query(exp="-1")), "'exp' must be a non-negative integer"),
    (link_with(good_query(exp="1" * 13)), "'exp' must be a non-negative integer"),
    (link_with(good_query(exp="012")), "'exp' must be a non-negative integer"),
    (link_with(good_query(exp="1e9")), "'exp' must be a non-negative integer"),
    (VALID.replace("chat", "chat\ngpt"), "characters that cannot appear in a URL"),
    (VALID.replace("chatgpt", "chat\tgpt"), "characters that cannot appear in a URL"),
    (" " + VALID, "characters that cannot appear in a URL"),
    (VALID + "\n", "characters that cannot appear in a URL"),
]


@pytest.mark.parametrize(("text", "reason"), NOT_A_LINK)
def test_not_a_pairing_link(text: str, reason: str) -> None:
    with pytest.raises(NotAPairingLink) as raised:
        parse_pairing_link(text)
    assert raised.value.code is ErrorCode.NOT_A_PAIRING_CODE
    assert reason in raised.value.message
    assert SECRET_CODE not in str(raised.value)
    assert SECRET_CODE not in repr(raised.value)


@pytest.mark.parametrize(
    ("query", "version"),
    [
        (good_query(v="2"), 2),
        (good_query(v="0"), 0),
        (good_query(v="999999999"), 999_999_999),
        # A newer version may rename, drop or add fields: it is still "update the app", not "not a pairing code".
        ("v=2&c=" + SECRET_CODE + "&room=r1&key=abc", 2),
        ("v=2", 2),
        (good_query(v="3", code="short", exp="soon") + "&nonce=1", 3),
    ],
)
def test_other_versions_are_unsupported_not_foreign(query: str, version: int) -> None:
    with pytest.raises(UnsupportedLinkVersion) as raised:
        parse_pairing_link(link_with(query))
    assert raised.value.code is ErrorCode.UNSUPPORTED_VERSION
    assert raised.value.version == version
    assert SECRET_CODE not in str(raised.value)


def test_a_foreign_link_with_a_version_field_is_still_not_a_pairing_link() -> None:
    with pytest.raises(NotAPairingLink):
        parse_pairing_link("https://example.com/codex/remote/pair?v=2")
    with pytest.raises(NotAPairingLink):
        parse_pairing_link("https://chatgpt.com/other/path?v=2")


def test_the_version_must_itself_be_given_once() -> None:
    with pytest.raises(NotAPairingLink, match="more than once"):
        parse_pairing_link(link_with("v=2&v=2"))


def test_the_pairing_code_is_kept_out_of_repr() -> None:
    link = parse_pairing_link(VALID)
    assert SECRET_CODE not in repr(link)
    assert "Dana's MacBook" in repr(link)


def test_to_url_writes_the_fields_in_order_with_query_encoding() -> None:
    link = PairingLink("http://127.0.0.1:5000", SECRET_CODE, "env:1", "Dana & Sam's Mac/1", 42)
    assert link.to_url() == (
        f"http://127.0.0.1:5000{LINK_PATH}?v=1&code={SECRET_CODE}&env=env%3A1"
        "&name=Dana+%26+Sam%27s+Mac%2F1&exp=42"
    )


@pytest.mark.parametrize(
    ("now", "expired"),
    [(1_799_999_999.0, False), (1_799_999_999.999, False), (1_800_000_000.0, True), (1_900_000_000.0, True)],
)
def test_a_link_expires_at_exp(now: float, expired: bool) -> None:
    link = PairingLink("https://chatgpt.com", SECRET_CODE, "env", "Mac", 1_800_000_000)
    assert link.is_expired(now) is expired


@pytest.mark.parametrize(
    "overrides",
    [
        {"origin": "https://example.com"},
        {"origin": "https://chatgpt.com/"},
        {"origin": "https://chatgpt.com/backend-api/"},
        {"origin": "https://chatgpt.com?"},
        {"origin": "chatgpt.com"},
        {"pairing_code": "short"},
        {"environment_id": ""},
        {"server_name": "bell\a"},
        {"server_name": "\ud800"},
        {"expires_at": -1},
        {"expires_at": 10**12},
        {"expires_at": True},
        {"expires_at": 1.5},
    ],
)
def test_constructing_an_invalid_link_is_refused(overrides: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "origin": "https://chatgpt.com",
        "pairing_code": SECRET_CODE,
        "environment_id": "env",
        "server_name": "Mac",
        "expires_at": 1,
    }
    fields.update(overrides)
    with pytest.raises(NotAPairingLink) as raised:
        PairingLink(**fields)  # type: ignore[arg-type]
    assert SECRET_CODE not in str(raised.value)


def test_origins_are_stored_in_canonical_form() -> None:
    assert canonical_origin("HTTP://LocalHost:8080") == "http://localhost:8080"
    assert PairingLink("HTTPS://ChatGPT.com", SECRET_CODE, "e", "n", 1).origin == "https://chatgpt.com"


# ---- properties -----------------------------------------------------------------------------------------------

_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
_port = st.integers(1, 65535)
origins = st.one_of(
    st.sampled_from(
        ["https://chatgpt.com", "https://chatgpt-staging.com", "http://localhost", "http://[::1]"]
    ),
    st.builds(
        lambda labels, domain: "https://" + ".".join([*labels, domain]),
        st.lists(_label, min_size=1, max_size=3),
        st.sampled_from(["chatgpt.com", "chatgpt-staging.com"]),
    ),
    st.builds(
        lambda scheme, last, port: f"{scheme}://127.0.0.{last}:{port}",
        st.sampled_from(["http", "https"]),
        st.integers(0, 255),
        _port,
    ),
    st.builds(lambda scheme, port: f"{scheme}://localhost:{port}", st.sampled_from(["http", "https"]), _port),
)
# Printable in Python's sense: letters, marks, numbers, punctuation, symbols, and the plain space.
server_names = st.text(
    alphabet=st.characters(categories=["L", "M", "N", "P", "S"], include_characters=" "),
    min_size=1,
    max_size=255,
)
links = st.builds(
    PairingLink,
    origin=origins,
    pairing_code=st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=16, max_size=128),
    environment_id=st.text(alphabet=string.ascii_letters + string.digits + "_.:-", min_size=1, max_size=128),
    server_name=server_names,
    expires_at=st.integers(0, 10**12 - 1),
)


@given(links)
def test_every_valid_link_round_trips_through_its_url(link: PairingLink) -> None:
    url = link.to_url()
    assert parse_pairing_link(url) == link
    assert parse_pairing_link(url).to_url() == url


def _parse_or_error(text: str) -> PairingLink | PairsimError:
    try:
        return parse_pairing_link(text)
    except PairsimError as exc:
        assert isinstance(exc, NotAPairingLink | UnsupportedLinkVersion)
        assert exc.message
        return exc


@given(st.text(max_size=400))
@example(VALID)
@example(VALID.replace("v=1", "v=2"))
def test_any_text_gives_a_link_or_a_typed_error(text: str) -> None:
    result = _parse_or_error(text)
    if isinstance(result, PairingLink):
        # Whatever the parser accepts, it can write back and read again unchanged.
        assert parse_pairing_link(result.to_url()) == result


@st.composite
def damaged_links(draw: st.DrawFn) -> str:
    """A valid link with a few characters replaced, inserted or deleted: the inputs a parser gets wrong."""
    text = draw(links).to_url()
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from("&=?#%/:@+;.-_ \n\x00aZ9é"))
        if action == "insert":
            text = text[:position] + char + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + 1 :]
        else:
            text = text[:position] + char + text[position + 1 :]
    return text


@settings(max_examples=300)
@given(damaged_links())
def test_damaged_links_give_a_link_or_a_typed_error(text: str) -> None:
    result = _parse_or_error(text)
    if isinstance(result, PairingLink):
        assert parse_pairing_link(result.to_url()) == result
