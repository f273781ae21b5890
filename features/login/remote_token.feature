@login
Feature: Sending a bearer token to a remote Codex
  `codex --remote <url> --remote-auth-token-env VAR` sends the token in VAR when it opens the WebSocket. It does so
  only over `wss://`, or over `ws://` to this machine itself; anything else would put the token on the network in
  clear text, so the client refuses before connecting. In the addresses below, `<port>` is the port of a WebSocket
  server listening on that address of this machine.

  Rule: The token travels only over wss:// or to a loopback ws:// address

    Scenario Outline: The remote client and <url>
      When the remote client is asked to send its token to "<url>"
      Then the remote client <verdict>

      Examples:
        | url                         | verdict                                                                                                |
        | wss://codex.example.com:443 | sends the token and says "Connected to the remote app server at `wss://codex.example.com:443`."        |
        | ws://127.0.0.1:<port>       | sends the token and says "Connected to the remote app server at `ws://127.0.0.1:<port>`."              |
        | ws://127.0.0.2:<port>       | sends the token and says "Connected to the remote app server at `ws://127.0.0.2:<port>`."              |
        | ws://localhost:<port>       | sends the token and says "Connected to the remote app server at `ws://localhost:<port>`."              |
        | ws://[::1]:<port>           | sends the token and says "Connected to the remote app server at `ws://[::1]:<port>`."                  |
        | ws://example.invalid:4500   | refuses: remote auth tokens require `wss://` or loopback `ws://` URLs; got `ws://example.invalid:4500` |
        | ws://192.0.2.1:4500         | refuses: remote auth tokens require `wss://` or loopback `ws://` URLs; got `ws://192.0.2.1:4500`       |

    @real_login
    Scenario: The real Codex TUI refuses a non-loopback ws:// remote with the TUI's own words
      When the real Codex TUI is started with "--remote ws://192.0.2.1:4500 --remote-auth-token-env TOKV"
      Then the terminal says "ERROR: `--remote-auth-token-env` requires a `wss://` or loopback `ws://` remote."
      And the login has ended with exit code 1
      And pairsim's rule refuses "ws://192.0.2.1:4500" for the TUI with the same words
