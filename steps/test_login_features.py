"""Binds features/login: `codex login` by browser, device code and access token, credential stores and the remote
token rule. Scenarios tagged @real_login also run against the installed real codex; without it they fail."""

from pytest_bdd import scenarios

from steps.login_steps import *  # noqa: F403  (the steps must be visible in this module to bind)

scenarios("login")
