"""`pairsim login`: the Codex CLI's sign-in as a simulator (browser callback, device code, access token) and the
credential stores it saves to."""
