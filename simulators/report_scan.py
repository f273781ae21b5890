"""Check the files a run really wrote for the secrets it issued: `python -m simulators.report_scan --canary FILE
reports/`.

The canary file holds one JSON line per test, `{"test": id, "secrets": [...]}`, appended by the test suite
(steps/report_redaction.py) when PAIRSIM_SECRET_CANARY names it; `make test` keeps it outside `reports/`, in a
temporary folder of its own. Every file under the given folders (Allure results and attachments, JUnit XML,
Cucumber JSON, `reproduce/`, anything else) is read as bytes and searched for each secret, in every spelling a
report writes (raw, JSON, `repr`, URL or HTML escaped), and for anything token-shaped (a JWT, `rt_…`, `sk-…`),
whoever issued it. A finding names the file and what kind of value it holds, never the value.

Exit status: 0 clean, 1 a file holds a secret, 2 the canary is unreadable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simulators.protocol.redaction import MIN_SECRET_LENGTH, TOKEN_SHAPES_BYTES, spellings


@dataclass(frozen=True)
class Finding:
    path: Path
    issued: int  # how many distinct secrets of the run the file holds
    token_shaped: int  # how many token-shaped strings (JWT, rt_, sk-) it holds

    def describe(self) -> str:
        kinds = []
        if self.issued:
            kinds.append(f"{self.issued} secret value(s) a test issued")
        if self.token_shaped:
            kinds.append(f"{self.token_shaped} token-shaped string(s) (JWT, rt_, sk-)")
        return f"{self.path} holds " + " and ".join(kinds)


@dataclass(frozen=True)
class ScanResult:
    findings: list[Finding]
    files: int
    bytes_read: int
    secrets: int
    seconds: float


def read_canary(path: Path) -> set[str]:
    """Every secret the canary lists (lines from several processes, in any order)."""
    secrets: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            secrets.update(entry["secrets"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{number} is not a canary line") from exc
    return secrets


def scan(roots: Iterable[Path], secrets: Iterable[str]) -> ScanResult:
    started = time.monotonic()
    # Each secret with all its spellings, so a file holding it twice (raw and escaped) counts it once.
    searched = [
        [spelled.encode("utf-8") for spelled in spellings(secret)]
        for secret in sorted(set(secrets))
        if len(secret) >= MIN_SECRET_LENGTH
    ]
    findings: list[Finding] = []
    files = bytes_read = 0
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if not path.is_file() or path.is_symlink():
                continue
            data = path.read_bytes()
            files += 1
            bytes_read += len(data)
            issued = sum(1 for spelled in searched if any(form in data for form in spelled))
            shaped = len(TOKEN_SHAPES_BYTES.findall(data))
            if issued or shaped:
                findings.append(Finding(path, issued, shaped))
    return ScanResult(findings, files, bytes_read, len(searched), time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulators.report_scan",
        description="Fail if any file under the given folders holds a secret the run issued or a token-shaped string.",
    )
    parser.add_argument("--canary", type=Path, required=True, help="the secrets file the test run appended to")
    parser.add_argument("roots", type=Path, nargs="+", help="folders (or files) to search, e.g. reports")
    args = parser.parse_args(argv)
    try:
        secrets = read_canary(args.canary) if args.canary.exists() else set()
    except (OSError, ValueError) as exc:
        print(f"pairsim: cannot read the secret canary: {exc}", file=sys.stderr)
        return 2
    if not secrets:
        print(f"pairsim: no test reported a secret in {args.canary}; searching for token shapes only", file=sys.stderr)
    result = scan(args.roots, secrets)
    for finding in result.findings:
        print(f"pairsim: {finding.describe()}", file=sys.stderr)
    print(
        f"pairsim: searched {result.files} report files ({result.bytes_read / 1e6:.1f} MB) for {result.secrets} "
        f"secrets and token shapes in {result.seconds:.1f} s: "
        + (f"{len(result.findings)} file(s) leak" if result.findings else "none found")
    )
    return 1 if result.findings else 0


if __name__ == "__main__":
    sys.exit(main())
