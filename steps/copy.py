"""Steps that quote what a person sees, and the registry `tests/test_copy_catalogue.py` reads.

A product feature quotes the words the user gets, verbatim, so a product person reviews the copy where the
behaviour is described. The catalogue (`simulators/messages.py`) stays the one source of truth: every step that
quotes copy registers its pattern here, with the copy in named groups that start with `copy`, or says that its
table cells or docstring lines are copy. The test then checks every quote of every product feature against the
catalogue, and that every catalogue entry is quoted somewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

# The features a product person reviews: product language only, copy quoted verbatim, no wire details.
PRODUCT_FEATURE_AREAS = ("pairing", "mfa", "enrollment", "remote_control", "remote_projects")


class QuoteIn(StrEnum):
    TEXT = "text"  # the named groups `copy…` of the step's text
    TABLE = "table"  # every cell of the step's data table
    DOCSTRING = "docstring"  # every line of the step's docstring


@dataclass(frozen=True)
class CopyQuote:
    pattern: re.Pattern[str]
    where: QuoteIn


COPY_QUOTES: list[CopyQuote] = []


def quotes_copy(pattern: str, where: QuoteIn = QuoteIn.TEXT) -> str:
    """Register a step pattern that quotes catalogue copy; returns the pattern for `parsers.re`."""
    compiled = re.compile(pattern)
    if where is QuoteIn.TEXT and not any(name.startswith("copy") for name in compiled.groupindex):
        raise ValueError(f"a step that quotes copy in its text names the quote `copy…`: {pattern}")
    COPY_QUOTES.append(CopyQuote(compiled, where))
    return pattern


def quoted_copy(step_text: str, datatable: list[list[str]] | None, docstring: str | None) -> list[str] | None:
    """The copy a step quotes, or None when the step quotes none."""
    for quote in COPY_QUOTES:
        match = quote.pattern.fullmatch(step_text)
        if match is None:
            continue
        if quote.where is QuoteIn.TABLE:
            return [cell for row in datatable or [] for cell in row]
        if quote.where is QuoteIn.DOCSTRING:
            return [line.strip() for line in (docstring or "").splitlines() if line.strip()]
        return [value for name, value in match.groupdict().items() if name.startswith("copy") and value]
    return None
