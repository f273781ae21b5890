"""Credential stores: auth.json layout and mode, keyring round trip on a real file backend, auto, ephemeral."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulators.login.credential_store import (
    KEYRING_SERVICE,
    AuthMode,
    AuthTokens,
    CredentialStoreError,
    CredentialStoreMode,
    FileCredentialStore,
    KeyringUnavailable,
    StoredAuth,
    file_keyring,
    keyring_from_environment,
    keyring_username,
    open_store,
)

AUTH = StoredAuth(
    AuthMode.CHATGPT,
    AuthTokens("id.jwt.value", "access.jwt.value", "refresh-value", "acct-1"),
    openai_api_key="sk-proj-secret",
    last_refresh="2027-01-01T00:00:00Z",
)


def test_file_store_writes_the_real_layout_with_mode_0600(tmp_path: Path) -> None:
    store = open_store("file", tmp_path)
    store.save(AUTH)
    path = tmp_path / "auth.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document == {
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": "sk-proj-secret",
        "tokens": {"id_token": "id.jwt.value", "access_token": "access.jwt.value",
                   "refresh_token": "refresh-value", "account_id": "acct-1"},
        "last_refresh": "2027-01-01T00:00:00Z",
    }
    assert store.load() == AUTH
    assert [p.name for p in tmp_path.iterdir()] == ["auth.json"]  # no temporary file left behind
    assert store.delete() and not store.delete()


def test_repr_never_shows_a_credential() -> None:
    text = repr(AUTH)
    for secret in ("id.jwt.value", "access.jwt.value", "refresh-value", "sk-proj-secret"):
        assert secret not in text


def test_keyring_store_uses_a_real_file_backend(tmp_path: Path) -> None:
    backend = file_keyring(tmp_path)
    store = open_store("keyring", tmp_path, backend)
    store.save(AUTH)
    assert not (tmp_path / "auth.json").exists()
    assert StoredAuth.parse(backend.get_password(KEYRING_SERVICE, keyring_username(tmp_path))) == AUTH
    assert stat.S_IMODE(Path(backend.file_path).stat().st_mode) == 0o600
    assert store.load() == AUTH
    assert store.delete() and store.load() is None


def test_auto_prefers_the_keyring_and_falls_back_to_the_file(tmp_path: Path) -> None:
    assert open_store("auto", tmp_path, file_keyring(tmp_path)).mode is CredentialStoreMode.KEYRING
    assert isinstance(open_store("auto", tmp_path, None), FileCredentialStore)


def test_keyring_mode_without_a_keyring_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyringUnavailable):
        open_store("keyring", tmp_path, keyring_from_environment(tmp_path, {"PAIRSIM_KEYRING": "none"}))
    with pytest.raises(CredentialStoreError):
        keyring_from_environment(tmp_path, {"PAIRSIM_KEYRING": "bogus"})


def test_ephemeral_lives_in_its_store_object_only(tmp_path: Path) -> None:
    store = open_store("ephemeral", tmp_path)
    store.save(AUTH)
    assert store.load() == AUTH
    assert list(tmp_path.iterdir()) == []
    # Another store (what a new process opens) for the same home starts empty: nothing is shared in the module.
    assert open_store("ephemeral", tmp_path).load() is None
    assert "access.jwt.value" not in repr(store)
    assert store.delete() and store.load() is None and not store.delete()


def test_old_files_without_auth_mode() -> None:
    parsed = StoredAuth.parse(json.dumps({"OPENAI_API_KEY": "sk-x"}))
    assert parsed.auth_mode is AuthMode.API_KEY and parsed.tokens is None


@given(st.text(max_size=300))
def test_parse_gives_a_document_or_a_typed_error(text: str) -> None:
    try:
        parsed = StoredAuth.parse(text)
    except CredentialStoreError as exc:
        # The message is one of a few fixed sentences; it never quotes the (possibly secret) file.
        assert exc.message.startswith("stored ")
    else:
        assert StoredAuth.parse(parsed.serialise()) == parsed


@given(st.dictionaries(st.sampled_from(["auth_mode", "OPENAI_API_KEY", "tokens", "last_refresh"]),
                       st.one_of(st.none(), st.text(max_size=5), st.integers(), st.dictionaries(
                           st.sampled_from(["id_token", "access_token", "refresh_token", "account_id"]),
                           st.one_of(st.none(), st.text(max_size=5))))))
def test_parse_of_json_shapes(raw: dict[str, object]) -> None:
    try:
        parsed = StoredAuth.parse(json.dumps(raw))
    except CredentialStoreError:
        return
    assert StoredAuth.parse(parsed.serialise()) == parsed
