"""The simulated phone app: a pure setup state machine (`machine`), the screens it shows (`screens`), and the I/O
driver (`app`) that scans a QR code, signs in through a browser, claims the pairing code and talks to the daemon
through the backend's relay (`relay_client`)."""
