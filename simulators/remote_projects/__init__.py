"""SSH remote projects as the Mac's desktop app works with them: a project on another computer, served by the
`codex app-server` running there and reached through a link (the SSH tunnel's forwarded local port).

`link.py` is where the two halves meet: whatever reaches the remote app-server (the SSH tunnel, or
`loopback.py`'s link to a real `codex app-server` on this machine) is a `RemoteLink`; `core.py` and `session.py`
are the desktop's JSON-RPC session over it, which survives the link dropping.
"""
