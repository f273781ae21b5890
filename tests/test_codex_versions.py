"""Choosing the real daemon's version (issue 13): versions and ranges, installing a version once from an npm registry
(a real one on loopback, driven by the real npm) checked against its integrity hash, the errors a missing or
unknown version gives, the `--codex-version` option, and the drift report's comparison."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import tarfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from simulators.real.codex import RealDaemonUnavailable, locate_real_daemon, native_package
from simulators.real.compat_cli import attach_to_allure, parse_versions
from simulators.real.drift import ScenarioResult, compare, first_changed_line, table_lines
from simulators.real.known_differences import KNOWN_DIFFERENCES, KnownDifference
from simulators.real.target import DaemonKind, imitated_version, version_under_test
from simulators.real.versions import (
    VERSION_ENV,
    CodexVersionError,
    VersionRange,
    check_version,
    fill_versions,
    install_version,
    is_installed,
    next_version,
    requested_version,
    version_folder,
)

pytest_plugins = ["pytester"]

# -- versions ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["0.171", "v0.171.0", "0.171.0-linux-x64", "latest", "", "0.171.0; rm -rf /"])
def test_what_is_not_a_version_is_refused_saying_how_to_write_one(text: str) -> None:
    with pytest.raises(CodexVersionError, match=r"is not a Codex version; write it as X\.Y\.Z"):
        check_version(text)


def test_the_option_wins_over_the_environment_which_wins_over_the_pin() -> None:
    assert requested_version("0.171.0", "0.169.0", {VERSION_ENV: "0.169.1"}) == "0.171.0"
    assert requested_version(None, "0.169.0", {VERSION_ENV: "0.169.1"}) == "0.169.1"
    assert requested_version(None, "0.169.0", {}) == "0.169.0"


def test_a_range_holds_from_its_first_version_up_to_the_one_that_changed() -> None:
    scoped = VersionRange(since="0.169.0", until="0.171.0")
    assert [scoped.holds(v) for v in ("0.168.0", "0.169.0", "0.169.1", "0.171.0-alpha.1", "0.171.0")] == [
        False, True, True, True, False]
    assert str(scoped) == "0.169.0 up to 0.171.0 (not included)"
    with pytest.raises(ValueError, match="empty version range"):
        VersionRange(since="0.171.0", until="0.169.0")


def test_the_placeholders_are_the_version_under_test_and_the_release_after_it() -> None:
    assert next_version("0.171.0") == "0.172.0"
    assert fill_versions("Update to {next version} or newer. Current version: {codex version}", "0.169.1") == (
        "Update to 0.170.0 or newer. Current version: 0.169.1")
    assert version_under_test(DaemonKind.MOCK) == imitated_version()


def test_a_known_difference_of_the_real_daemon_is_expected_only_on_its_versions() -> None:
    base = KNOWN_DIFFERENCES["real_daemon_hides_the_mfa_refusal"]
    scoped = KnownDifference(base.name, base.daemon, base.step, base.raises, base.message, base.why,
                             versions=VersionRange(until="0.172.0"))
    assert scoped.applies_to(DaemonKind.CODEX, "0.171.0")
    assert not scoped.applies_to(DaemonKind.CODEX, "0.172.0")
    assert not scoped.applies_to(DaemonKind.MOCK, "0.171.0")
    with pytest.raises(ValueError, match="the mock imitates one version"):
        KnownDifference("m", DaemonKind.MOCK, "s", ValueError, "x", "y", versions=VersionRange(since="0.1.0"))


# -- where a version is, and the errors when it is not -----------------------------------------------------------


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "codex-cache"
    monkeypatch.setenv("PAIRSIM_CODEX_CACHE", str(root))
    return root


@pytest.fixture
def pinned(tmp_path: Path) -> Path:
    project = tmp_path / "real-daemon"
    project.mkdir()
    (project / "package.json").write_text(json.dumps({"dependencies": {"@openai/codex": "0.169.0"}}))
    return project


def test_a_version_not_installed_names_the_command_that_installs_it(cache: Path, pinned: Path) -> None:
    with pytest.raises(RealDaemonUnavailable, match=r"@openai/codex@9\.9\.0 is not installed; run "
                                                    r"`pairsim codex install 9\.9\.0`"):
        locate_real_daemon(pinned, version="9.9.0")


def test_the_pin_not_installed_names_the_projects_install_script(cache: Path, pinned: Path) -> None:
    with pytest.raises(RealDaemonUnavailable, match="scripts/install-real-daemon"):
        locate_real_daemon(pinned)


def test_the_environment_chooses_the_version_every_start_uses(
    cache: Path, pinned: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VERSION_ENV, "9.9.0")
    with pytest.raises(RealDaemonUnavailable, match=r"pairsim codex install 9\.9\.0"):
        locate_real_daemon(pinned)


# -- installing from a registry --------------------------------------------------------------------------------------

VERSION = "9.9.0"


def _tarball(files: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@dataclass
class Registry:
    """An npm registry on loopback with one package, @openai/codex, as the real one lays out its releases: the shim
    and the native builds as versions of the same name, the shim naming its build as an aliased optional
    dependency."""

    url: str
    tarballs: dict[str, bytes]
    claimed: dict[str, str]  # version → the integrity the packument states (tampering changes it)

    def packument(self) -> dict[str, object]:
        platform, _ = native_package()
        versions: dict[str, object] = {}
        for version, data in self.tarballs.items():
            entry: dict[str, object] = {
                "name": "@openai/codex", "version": version,
                "dist": {"tarball": f"{self.url}tarballs/{version}.tgz",
                         "integrity": self.claimed.get(version, _integrity(data)),
                         "shasum": hashlib.sha1(data).hexdigest()},
            }
            if "-" not in version:
                native = f"{version}-{platform.removeprefix('@openai/codex-')}"
                entry["optionalDependencies"] = {platform: f"npm:@openai/codex@{native}"}
            versions[version] = entry
        return {"name": "@openai/codex", "dist-tags": {"latest": VERSION}, "versions": versions}


def _serve(registry: Registry) -> tuple[ThreadingHTTPServer, threading.Thread]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/tarballs/"):
                body = registry.tarballs.get(self.path.removeprefix("/tarballs/").removesuffix(".tgz"))
                kind = "application/octet-stream"
            elif self.path.lower() in ("/@openai%2fcodex", "/@openai/codex"):
                body, kind = json.dumps(registry.packument()).encode(), "application/json"
            else:
                body = None
            if body is None:
                self.send_response(404)
                self.send_header("Content-Type", "application/json")
                body = b'{"error":"Not found"}'
            else:
                self.send_response(200)
                self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    if shutil.which("npm") is None:
        pytest.fail("npm is not on PATH; scripts/ensure-system-deps installs Node.js and npm")
    platform, triple = native_package()
    native_version = f"{VERSION}-{platform.removeprefix('@openai/codex-')}"
    binary = f"#!/bin/sh\necho 'codex-cli {VERSION}'\n".encode()
    layout = json.dumps({"version": VERSION, "target": triple}).encode()
    tarballs = {
        VERSION: _tarball({"package.json": (json.dumps({"name": "@openai/codex", "version": VERSION}).encode(), 0o644),
                           "bin/codex.js": (b"// the shim\n", 0o755)}),
        native_version: _tarball({"package.json": (b'{"name":"@openai/codex"}', 0o644),
                                  f"vendor/{triple}/bin/codex": (binary, 0o755),
                                  f"vendor/{triple}/codex-package.json": (layout, 0o644)}),
    }
    served = Registry("", tarballs, {})
    server, thread = _serve(served)
    served.url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setenv("npm_config_registry", served.url)
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    monkeypatch.setenv("npm_config_update_notifier", "false")
    monkeypatch.setenv("npm_config_fetch_retries", "0")  # a refused download is final, not retried for minutes
    try:
        yield served
    finally:
        server.shutdown()
        thread.join()


def test_a_version_installs_once_into_its_own_folder_and_runs(registry: Registry, cache: Path, pinned: Path) -> None:
    folder = install_version(VERSION, native_package()[0])
    assert folder == version_folder(VERSION) == cache / VERSION
    recorded = json.loads((folder / "pairsim-install.json").read_text())
    assert recorded["integrity"] == {f"@openai/codex@{v}": _integrity(data) for v, data in registry.tarballs.items()}
    install = locate_real_daemon(pinned, version=VERSION)
    assert install.version == VERSION
    assert os.access(install.binary, os.X_OK)
    registry.tarballs.clear()  # the registry is gone: a second install must not need it
    assert install_version(VERSION, native_package()[0]) == folder


def test_an_unknown_version_is_one_error_naming_where_the_versions_are_listed(registry: Registry, cache: Path) -> None:
    with pytest.raises(CodexVersionError, match=r"@openai/codex 9\.9\.1 is not published on npm; `npm view "
                                                r"@openai/codex versions --json` lists"):
        install_version("9.9.1", native_package()[0])
    assert not any(cache.glob("*")) or not is_installed(cache / "9.9.1")


def test_a_download_that_is_not_what_the_registry_states_installs_nothing(registry: Registry, cache: Path) -> None:
    native = next(v for v in registry.tarballs if "-" in v)
    registry.claimed[native] = _integrity(b"another build")
    # npm's own check refuses it first (EINTEGRITY); ours, below, stands behind it.
    with pytest.raises(CodexVersionError, match=r"npm pack @openai/codex@9\.9\.0-\S+ failed: npm error code EINTEGRITY"):
        install_version(VERSION, native_package()[0])
    assert list(cache.iterdir()) == []


def test_our_own_check_refuses_a_tarball_npm_let_through(tmp_path: Path, cache: Path) -> None:
    """npm checks what it downloads too; this is the check that stands if it did not (a tarball from its cache)."""
    real, swapped = _tarball({"a": (b"1", 0o644)}), _tarball({"a": (b"2", 0o644)})
    platform, _ = native_package()

    def npm(args: Sequence[str], cwd: Path) -> str:
        if args[0] == "view" and args[2] == "optionalDependencies":
            return json.dumps({platform: f"npm:@openai/codex@{VERSION}-native"})
        if args[0] == "view":
            return json.dumps(_integrity(real))
        Path(args[args.index("--pack-destination") + 1], "codex.tgz").write_bytes(swapped)
        return ""

    with pytest.raises(CodexVersionError, match=r"does not match the registry's integrity hash.*nothing was installed"):
        install_version(VERSION, platform, npm=npm)
    assert list(cache.iterdir()) == []


def test_latest_and_pin_are_words_the_versions_list_takes(registry: Registry) -> None:
    assert parse_versions("pin, latest,0.171.0,latest") == ["0.169.0", VERSION, "0.171.0"]


# -- the pytest option -------------------------------------------------------------------------------------------

PLUGIN = ("-p", "simulators.real.pytest_plugin", "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist")


def test_a_bad_version_option_is_one_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess(*PLUGIN, "--codex-version", "0.171")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--codex-version: '0.171' is not a Codex version; write it as X.Y.Z*"])


def test_a_version_not_installed_stops_the_codex_run_naming_the_install_command(
    pytester: pytest.Pytester, cache: Path
) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    before = os.environ.get(VERSION_ENV)
    result = pytester.runpytest_inprocess(*PLUGIN, "--daemon", "codex", "--codex-version", "9.9.0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--daemon codex: *@openai/codex@9.9.0 is not installed; run `pairsim codex "
                                 "install 9.9.0`*"])
    assert os.environ.get(VERSION_ENV) == before  # the inner run left the outer run's choice alone


# -- the drift report ------------------------------------------------------------------------------------------------


def _result(nodeid: str, outcome: str, failure: str = "") -> ScenarioResult:
    return ScenarioResult(nodeid, f"feature: {nodeid}", outcome, failure)


def test_the_first_changed_line_is_where_two_failures_part() -> None:
    before = "in the step 'the Mac says'\nAssertionError: assert 403 == 200\nbody: {\"detail\":\"MFA\"}"
    after = "in the step 'the Mac says'\nAssertionError: assert 401 == 200\nbody: {\"detail\":\"MFA\"}"
    assert first_changed_line(before, after) == "AssertionError: assert 401 == 200"
    assert first_changed_line("a", "a") == ""


def test_the_report_names_each_difference_and_where_the_mock_no_longer_matches(tmp_path: Path) -> None:
    old = [_result("same", "passed"), _result("fixed", "known difference mfa"),
           _result("broke", "passed"), _result("reworded", "failed", "step x\nE: old words")]
    new = [_result("same", "passed"), _result("fixed", "no longer differs mfa", "[XPASS(strict)] codex 0.171.0 …"),
           _result("broke", "failed", "in the step 'it pairs'\nAssertionError: 'errored' == 'connected'"),
           _result("reworded", "failed", "step x\nE: new words")]
    mock = [_result("same", "passed"), _result("fixed", "passed"), _result("broke", "passed"),
            _result("reworded", "passed")]
    report = compare({"0.169.0": old, "0.171.0": new}, mock, {"0.169.0": 300.0})
    rows = {row.nodeid: row for row in report.rows}
    assert not rows["same"].changed and rows["same"].mock_matches_newest
    assert rows["broke"].first_change == ("passed → failed: in the step 'it pairs': AssertionError: 'errored' == "
                                          "'connected'")
    assert rows["reworded"].first_change == "failed → failed: E: new words"
    assert rows["fixed"].outcomes == {"0.169.0": "known difference mfa", "0.171.0": "no longer differs mfa",
                                      "mock": "passed"}
    assert {row.nodeid for row in report.mock_mismatches} == {"fixed", "broke", "reworded"}
    assert report.rows[-1].nodeid == "same"  # the differences first
    markdown = report.to_markdown()
    assert "| feature: broke (mock ≠ newest) | passed | failed | passed | passed → failed: in the step 'it pairs': " \
           "AssertionError" in markdown
    assert "Run times: 0.169.0 300 s" in markdown
    assert table_lines(report)[-1] == "… and 1 scenarios that passed on every version (and on the mock)"
    written = attach_to_allure(report, markdown, json.dumps(report.to_json()), tmp_path)
    result = json.loads(written.read_text())
    assert result["status"] == "broken" and result["name"] == "Codex drift report 0.169.0 vs 0.171.0"
    assert (tmp_path / result["attachments"][0]["source"]).read_text() == markdown


# -- the command line ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["codex", "install", "0.171"], "pairsim: error: '0.171' is not a Codex version; write it as X.Y.Z, e.g. "
                                        "0.171.0"),
        (["compat", "--versions", " , "], "pairsim: error: --versions names no version; e.g. --versions "
                                          "0.169.0,0.171.0"),
    ],
)
def test_bad_versions_on_the_command_line_are_one_line_and_exit_2(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulators.cli import main

    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [said]


def test_install_on_the_command_line_names_the_folder(
    registry: Registry, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from simulators.cli import main

    assert main(["codex", "install", VERSION]) == 0
    assert capsys.readouterr().out == f"pairsim: @openai/codex {VERSION} is installed in {cache / VERSION} " \
                                      "(integrity checked)\n"


def test_the_same_known_difference_on_two_versions_is_no_difference() -> None:
    a = _result("x", "known difference mfa", "in the step 's'\nAssertionError: port 41000")
    b = _result("x", "known difference mfa", "in the step 's'\nAssertionError: port 41999")
    assert not compare({"1.0.0": [a], "1.1.0": [b]}).rows[0].changed
