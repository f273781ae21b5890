"""Binds the pairing features; the steps live in the shared step modules registered by conftest.py."""

from pytest_bdd import scenarios

scenarios("pairing")
