"""pytest-bdd step library for the features in `features/`.

Shared steps live in plain modules (never `test_*`, which pytest-bdd would collect twice) registered as plugins by
the top-level conftest.py; `test_*.py` modules only bind feature files with `scenarios(...)`.
"""
