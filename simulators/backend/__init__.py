"""The simulated ChatGPT backend: accounts, the OAuth issuer, the admin/test-control API, and (from other
areas) the remote-control routes, all served by one loopback aiohttp server (`server.BackendServer`).

Modules: `accounts` (who can sign in and how), `issuer` + `pages` (OAuth/OIDC and its HTML), `admin` (scenario
control and fault injection), `server` (assembly; route groups are the extension point).
"""
