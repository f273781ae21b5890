@daemon @remote_control
Feature: A Mac whose Codex goes through an HTTP proxy that breaks WebSocket upgrades
  openai/codex#41549: Codex on the Mac inherited `HTTP_PROXY` from the person's shell. Its HTTP calls to the backend
  pass through the proxy, but the proxy refuses the tunnel the relay's WebSocket needs, so remote control stays
  errored, and `codex remote-control` says only that the connection is errored. The proxy here is a real one
  (proxy.py) on this machine; both daemons really go through it. With the fix, the Mac names the proxy as the cause.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device

  Rule: A proxy that breaks WebSocket upgrades keeps remote control errored

    Background:
      Given Codex on Dana's Mac inherited HTTP_PROXY from her shell, pointing at a proxy that breaks WebSocket upgrades
      When Dana turns on "Allow other devices to connect" on her Mac

    Scenario: The Mac's daemon goes through the proxy, which refuses its relay connection
      Then the proxy carried her Mac's enrollment and refused its relay connection
      And her Mac's daemon logs "Proxy connection failed: HTTP CONNECT failed with status 403"

    @legacy @xfail_on_mock:mock_has_no_remote_control_cli
    Scenario: The command line says only that the connection is errored
      Then "codex remote-control" on her Mac says "Remote control is enabled on {server name} but the connection is errored."

    @legacy
    Scenario: Today's Mac only says that remote control is errored
      Then Settings › Connections on her Mac says "Remote control is errored."

    @fixed @xfail_on_codex:real_daemon_does_not_name_the_refusing_proxy
    Scenario: With the fix, the Mac names the proxy as the cause and says what to do
      Then Settings › Connections on her Mac says "Codex can't reach remote control through the HTTP proxy it was started with: the proxy refuses WebSocket connections. Turn off HTTP_PROXY for Codex, or allow WebSocket connections through the proxy, then turn Allow other devices to connect off and on."

  Rule: A proxy that carries WebSocket upgrades is no problem

    Scenario: Through a proxy that carries everything, the Mac connects
      Given Codex on Dana's Mac inherited HTTP_PROXY from her shell, pointing at a proxy that carries everything
      When Dana turns on "Allow other devices to connect" on her Mac
      Then the proxy carried her Mac's relay connection
      And her Mac connects to the relay again
