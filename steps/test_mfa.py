"""Binds the MFA features (the seed story among them); the steps live in the shared step modules."""

from pytest_bdd import scenarios

scenarios("mfa")
