"""`pairsim codex install X.Y.Z` and `pairsim compat --versions A,B [--json]`: any Codex version, and the drift report.

`compat` installs each version it is asked for (once, checked), runs the daemon-facing tests against each in turn
(`pytest --daemon codex --codex-version V`, one version at a time: each run uses the machine's cores), then the same
tests against the mock daemon, and writes the table to `reports/compat.md` and `reports/compat.json`, and into the
Allure results as one result with both attached. `latest` in `--versions` is the registry's `latest` tag.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

from simulators.cli_parser import OneLineParser
from simulators.protocol.errors import PairsimError
from simulators.real.codex import REPO_ROOT, locate_real_daemon, native_package, pinned_version
from simulators.real.drift import DriftReport, ScenarioResult, compare, load_results, table_lines
from simulators.real.versions import (
    PACKAGE_NAME,
    CodexVersionError,
    check_version,
    install_version,
    run_npm,
    version_folder,
)

REPORTS = REPO_ROOT / "reports"


def latest_version() -> str:
    """The registry's `latest` tag for @openai/codex."""
    out = run_npm(["view", PACKAGE_NAME, "dist-tags.latest", "--json"], REPO_ROOT)
    return check_version(str(json.loads(out)))


def parse_versions(text: str) -> list[str]:
    """`0.169.0,0.171.0` (`pin` and `latest` allowed) → the versions, in order, each once."""
    versions: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        version = pinned_version() if part == "pin" else latest_version() if part == "latest" else check_version(part)
        if version not in versions:
            versions.append(version)
    if not versions:
        raise CodexVersionError("--versions names no version; e.g. --versions 0.169.0,0.171.0")
    return versions


def ensure_installed(version: str) -> None:
    """The pin is the project-local install (scripts/install-real-daemon); another version installs into the cache."""
    if version == pinned_version():
        try:
            locate_real_daemon(version=version)
            return
        except PairsimError:
            pass  # not installed in tools/real-daemon: the cache holds it as any other version
    folder = install_version(version, native_package()[0])
    print(f"pairsim: {PACKAGE_NAME} {version} is installed in {folder}", file=sys.stderr)


def _pytest(kind: str, version: str | None, results: Path, args: argparse.Namespace) -> tuple[int, float]:
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            f"--compat-results={results}", "--daemon", kind, "-n", str(args.workers),
            f"--alluredir={args.alluredir}"]
    if version is not None:
        argv += ["--codex-version", version]
    if args.select:
        argv += ["-k", args.select]
    started = time.monotonic()
    label = f"codex {version}" if version else "the mock daemon"
    print(f"pairsim: running the daemon-facing tests against {label}", file=sys.stderr)
    done = subprocess.run(argv, cwd=REPO_ROOT, stdout=sys.stderr if args.verbose else subprocess.DEVNULL,
                          check=False)
    return done.returncode, time.monotonic() - started


def _results(kind: str, version: str | None, args: argparse.Namespace, durations: dict[str, float]) -> list[
        ScenarioResult]:
    """One run's results, kept in `out/compat-runs/` (with `--reuse`, an earlier run's file stands in for the run)."""
    name = f"codex-{version}" if version else "mock"
    path = args.out / "compat-runs" / f"{name}.json"
    if args.reuse and path.exists():
        print(f"pairsim: reusing {path}", file=sys.stderr)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        code, seconds = _pytest(kind, version, path, args)
        if code not in (0, 1) or not path.exists():
            label = f"codex {version}" if version else "the mock daemon"
            raise CodexVersionError(f"the run against {label} did not finish (pytest exit {code})")
        document = json.loads(path.read_text(encoding="utf-8"))
        document["duration_s"] = round(seconds, 1)  # kept with the results, so a re-tabulation still has it
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    seconds = json.loads(path.read_text(encoding="utf-8")).get("duration_s")
    if isinstance(seconds, int | float):
        durations[version or "mock"] = float(seconds)
    return load_results(str(path))


def run_compat(args: argparse.Namespace) -> int:
    versions = parse_versions(args.versions)
    for version in versions:
        ensure_installed(version)
    durations: dict[str, float] = {}
    runs = {version: _results("codex", version, args, durations) for version in versions}
    mock = None if args.no_mock else _results("mock", None, args, durations)
    report = compare(runs, mock, durations)
    write_reports(report, args.out, args.alluredir)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(table_lines(report, all_rows=args.all)))
        print(f"pairsim: the table is in {args.out / 'compat.md'} and {args.out / 'compat.json'}", file=sys.stderr)
    return 0


def write_reports(report: DriftReport, out: Path, alluredir: Path | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    markdown, document = report.to_markdown(), json.dumps(report.to_json(), indent=2) + "\n"
    (out / "compat.md").write_text(markdown, encoding="utf-8")
    (out / "compat.json").write_text(document, encoding="utf-8")
    if alluredir is not None:
        attach_to_allure(report, markdown, document, alluredir)


def attach_to_allure(report: DriftReport, markdown: str, document: str, alluredir: Path) -> Path:
    """One Allure result, "Codex drift report A vs B", with the table attached as Markdown and JSON. Its status is
    `passed` when no scenario differs and the mock matches the newest version, `broken` otherwise (drift is news,
    not a failure of pairsim)."""
    alluredir.mkdir(parents=True, exist_ok=True)
    attachments = []
    for text, kind, ext, name in ((markdown, "text/markdown", "md", "drift table (Markdown)"),
                                  (document, "application/json", "json", "drift table (JSON)")):
        source = f"{uuid.uuid4()}-attachment.{ext}"
        (alluredir / source).write_text(text, encoding="utf-8")
        attachments.append({"name": name, "source": source, "type": kind})
    now = int(time.time() * 1000)
    title = f"Codex drift report {' vs '.join(report.versions)}"
    drift = report.differences or report.mock_mismatches
    result = {
        "uuid": str(uuid.uuid4()), "historyId": title, "fullName": f"pairsim compat: {title}", "name": title,
        "status": "broken" if drift else "passed",
        "statusDetails": {"message": f"{len(report.differences)} scenarios differ between versions; the mock no "
                                     f"longer matches {report.versions[-1]} on {len(report.mock_mismatches)}"},
        "stage": "finished", "start": now, "stop": now, "attachments": attachments,
        "labels": [{"name": "suite", "value": "compat"}, {"name": "feature", "value": "Codex versions"}],
    }
    path = alluredir / f"{result['uuid']}-result.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return path


def run_install(args: argparse.Namespace) -> int:
    for version in args.versions:
        resolved = latest_version() if version == "latest" else check_version(version)
        folder = install_version(resolved, native_package()[0])
        print(f"pairsim: {PACKAGE_NAME} {resolved} is installed in {folder} (integrity checked)")
    return 0


def run_where(args: argparse.Namespace) -> int:
    print(version_folder(args.version))
    return 0


def register(subparsers: argparse._SubParsersAction[OneLineParser]) -> None:
    codex = subparsers.add_parser("codex", help="install and find real Codex daemon versions")
    actions = codex.add_subparsers(dest="action", required=True, parser_class=OneLineParser)
    install = actions.add_parser("install", help="install @openai/codex versions once into the cache, checked")
    install.add_argument("versions", nargs="+", metavar="X.Y.Z", help="versions to install (or `latest`)")
    install.set_defaults(func=run_install)
    where = actions.add_parser("where", help="print the cache folder a version installs into")
    where.add_argument("version", metavar="X.Y.Z")
    where.set_defaults(func=run_where)

    compat = subparsers.add_parser("compat", help="run the daemon-facing tests against Codex versions; drift table")
    compat.add_argument("--versions", required=True, help="comma-separated, e.g. 0.169.0,0.171.0 (`pin`, `latest`)")
    compat.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    compat.add_argument("--all", action="store_true", help="print every scenario, not only those that differ")
    compat.add_argument("--no-mock", action="store_true", help="skip the run against the mock daemon")
    compat.add_argument("--workers", type=int, default=2, help="pytest-xdist workers per run (default 2)")
    compat.add_argument("--select", default=None, metavar="EXPR", help="narrow each run with pytest -k EXPR")
    compat.add_argument("--out", type=Path, default=REPORTS, help="where compat.md and compat.json go (reports/)")
    compat.add_argument("--alluredir", type=Path, default=REPORTS / "allure-results",
                        help="Allure results folder the runs and the report go to (reports/allure-results)")
    compat.add_argument("--reuse", action="store_true",
                        help="take a version's (or the mock's) results from an earlier run in OUT/compat-runs/")
    compat.add_argument("--verbose", action="store_true", help="show each pytest run's output on stderr")
    compat.set_defaults(func=run_compat)
