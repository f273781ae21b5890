"""scripts/test-verdict: make test's rule on its pytest runs (README, "make test")."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

VERDICT = Path(__file__).resolve().parents[1] / "scripts" / "test-verdict"


def verdict(mock: int, codex: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VERDICT), f"mock={mock}", f"codex={codex}"], capture_output=True, text=True, timeout=10
    )


@pytest.mark.parametrize(
    ("mock", "codex", "verified"),
    [(0, 0, "mock codex"), (0, 5, "mock"), (5, 0, "codex")],
    ids=["both passed", "only the mock run selected tests", "only the codex run selected tests"],
)
def test_it_passes_when_no_run_failed_and_one_verified_something(mock: int, codex: int, verified: str) -> None:
    result = verdict(mock, codex)
    assert (result.returncode, result.stdout) == (0, f"pairsim: passed; verified by the run(s): {verified}\n")


def test_it_fails_when_no_run_selected_a_test() -> None:
    result = verdict(5, 5)
    assert result.returncode == 1
    assert result.stderr == "pairsim: NOTHING VERIFIED: no pytest run of make test selected a test\n"


@pytest.mark.parametrize(
    ("mock", "codex", "failed"),
    [(1, 0, "mock (pytest exit 1)"), (0, 2, "codex (pytest exit 2)"), (3, 5, "mock (pytest exit 3)"),
     (1, 4, "mock (pytest exit 1) codex (pytest exit 4)")],
)
def test_it_fails_when_a_run_failed(mock: int, codex: int, failed: str) -> None:
    result = verdict(mock, codex)
    assert (result.returncode, result.stderr) == (1, f"pairsim: make test failed: {failed}\n")
