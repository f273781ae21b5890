"""Binds features/remote_projects (issue 12): Codex on a Mac opening a project on a remote computer over SSH, and
the phone through the Mac. The remote computer runs the real Codex whatever `--daemon` says, so these scenarios are
not `@daemon`: they run in the mock run. The SSH ones need network namespaces (root); they fail, never skip,
without them."""

from pytest_bdd import scenarios

scenarios("remote_projects")
