"""The product features quote what people see, verbatim, and the catalogue stays the one source of that copy.

- every quote in a product feature (what a copy step quotes: `steps/copy.py`) is a catalogue entry, word for word
  (a `{placeholder}` of the catalogue matches the value the scenario fills in);
- every catalogue entry is quoted by some feature, so no message goes unreviewed;
- product features hold no HTTP bodies and no internal names (status values, error codes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_bdd.feature import get_features

import steps.control_steps
import steps.desktop
import steps.phone
import steps.processes_faults
import steps.remote_control_steps
import steps.remote_projects
import steps.remote_projects_steps
import steps.session  # noqa: F401  (registers its copy steps)
from simulators import messages
from simulators.daemon.remote_control import EnrollmentStatus
from simulators.protocol.errors import ErrorCode
from steps.copy import PRODUCT_FEATURE_AREAS, quoted_copy

FEATURES = Path(__file__).resolve().parents[1] / "features"
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
QUOTED = re.compile(r'"([^"]*)"')


@dataclass(frozen=True)
class RenderedStep:
    where: str
    text: str
    datatable: list[list[str]] | None
    docstring: str | None


def rendered_steps(area: str | None = None) -> Iterator[RenderedStep]:
    """Every step of every scenario as it runs: outlines once per Examples row."""
    root = FEATURES / area if area else FEATURES
    for feature in get_features([str(root)]):
        for template in feature.scenarios.values():
            contexts = [dict(c) for examples in template.examples for c in examples.as_contexts()] or [{}]
            for context in contexts:
                for step in template.render(context).steps:
                    table = [[cell.value for cell in row.cells] for row in step.datatable.rows] \
                        if step.datatable else None
                    yield RenderedStep(f"{feature.rel_filename}:{step.line_number}", step.name, table, step.docstring)


# What a placeholder may stand for in a quote: the values scenarios fill in, or the step's own placeholder. An
# unconstrained `.+` would let the bare `{server_name}` title match any quote at all.
PLACEHOLDER_VALUES = {
    "server_name": r"(?:[A-Z]\w*'s Mac[\w ]*|\{server name\})",
    "decision_text": "|".join(re.escape(text) for text in messages.DECISION_TEXT.values()),
    "thread_count": r"\d+",
    "ok": r"\d+",
    "warn": r"\d+",
    "fail": r"\d+",
    "http_status": r"\d{3}",
    "cwd": r"\{project folder\}",
    "path": r"\{project folder\}/[\w./-]+",
    "command": r"[^`]+",
    "url": r"[^`]+",
    "reason": r"[^\n]+?",
    # A version, or the placeholders the steps fill from the daemon under test.
    "minimum_version": r"(?:\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?|\{codex version\}|\{next version\})",
    "current_version": r"(?:\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?|\{codex version\}|\{next version\})",
    # A refused request in the terminal (`unexpected status …`): the HTTP status, the body's message, its code.
    "status": r"\d{3} [A-Z][A-Za-z ]+",
    "detail": r"[^,]+",
    "code": r"[a-z_]+",
    # How far a clock is off, as the desktop words it ("2 hours").
    "how_far": r"\d+ (?:minute|hour|day)s?",
    # A remote project's folder name and the SSH alias of its computer (issue 12): one word each.
    "project": r"[\w.-]+",
    "host": r"[\w.-]+",
}


def template_pattern(text: str) -> re.Pattern[str]:
    """A catalogue text as a pattern, its `{placeholders}` matching what scenarios fill in."""
    parts = re.split(r"(\{[a-z_]+\})", text)
    return re.compile("".join(
        f"(?:{PLACEHOLDER_VALUES.get(p[1:-1], r'[^.]+?')})" if PLACEHOLDER.fullmatch(p) else re.escape(p)
        for p in parts
    ))


CATALOGUE = messages.catalogue()
PATTERNS = {key: template_pattern(text) for key, text in CATALOGUE.items()}


def product_quotes() -> list[tuple[str, str]]:
    quotes = []
    for area in PRODUCT_FEATURE_AREAS:
        for step in rendered_steps(area):
            for quote in quoted_copy(step.text, step.datatable, step.docstring) or []:
                quotes.append((step.where, quote))
    return quotes


def test_the_product_features_quote_copy() -> None:
    # Guards the guard: if no step were registered as quoting copy, every check below would pass vacuously.
    assert len(product_quotes()) >= 30


@pytest.mark.parametrize(("where", "quote"), product_quotes())
def test_every_quote_is_catalogue_copy(where: str, quote: str) -> None:
    assert any(pattern.fullmatch(quote) for pattern in PATTERNS.values()), (
        f"{where} quotes {quote!r}, which the catalogue (simulators/messages.py) does not hold"
    )


def _all_feature_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(FEATURES.rglob("*.feature")))


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_every_catalogue_entry_is_quoted_by_a_feature(key: str) -> None:
    text = _all_feature_text()
    assert PATTERNS[key].search(text), f"no feature shows when a person reads {key}: {CATALOGUE[key]!r}"


INTERNAL_NAMES = {status.value for status in EnrollmentStatus} | {code.value for code in ErrorCode}
INTERNAL_WORDS = INTERNAL_NAMES | {name.replace("_", " ") for name in INTERNAL_NAMES}


@pytest.mark.parametrize("area", PRODUCT_FEATURE_AREAS)
def test_product_features_hold_no_http_bodies_or_internal_names(area: str) -> None:
    for step in rendered_steps(area):
        assert not (step.docstring or "").lstrip().startswith(("{", "[")), f"{step.where}: a JSON docstring"
        values = QUOTED.findall(step.text) + [cell for row in step.datatable or [] for cell in row]
        # A quote of catalogue copy is what the person sees, even when it reads like a code's name ("Not a pairing
        # code" is the title of `not_a_pairing_code`).
        leaked = sorted(
            value for value in values
            if value.strip().lower() in INTERNAL_WORDS and not any(p.fullmatch(value) for p in PATTERNS.values())
        )
        assert not leaked, f"{step.where} names internal values {leaked}: quote what the person sees instead"


def test_a_misquote_is_caught() -> None:
    misquoted = CATALOGUE["desktop.status.connected"].replace("Ready", "Ready now")
    assert not any(pattern.fullmatch(misquoted) for pattern in PATTERNS.values())
