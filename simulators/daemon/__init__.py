"""The mock desktop daemon (`codex app-server` 0.169.0): a transport-independent JSON-RPC core (`app_server`),
a scripted agent (`threads`), the WebSocket listener (`listener`) and `pairsim daemon serve`."""
