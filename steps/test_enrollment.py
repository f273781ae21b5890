"""Binds the enrollment-refusal features; the steps live in the shared step modules."""

from pytest_bdd import scenarios

scenarios("enrollment")
