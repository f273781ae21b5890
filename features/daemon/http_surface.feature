@daemon
Feature: The daemon's HTTP surface
  The app-server's WebSocket port also answers plain HTTP: health checks for supervisors, and refusals for anything
  that is not a WebSocket upgrade from a non-browser client. Checked in this order: any Origin header (403), health
  endpoints, WebSocket handshake headers (400), auth (401), then the upgrade (101) on any path.
  Reference: codex app-server 0.169.0, observed behaviour §3.2.

  Rule: Health endpoints answer GET in every auth mode, without a token

    Scenario Outline: <path> answers 200 with <auth>
      Given a daemon on loopback with <auth>
      When a client sends GET <path> with no headers
      Then the daemon answers 200 with an empty body
      And the answer has the header "content-length: 0"

      Examples:
        | path     | auth                     |
        | /readyz  | no auth                  |
        | /healthz | no auth                  |
        | /readyz  | capability-token auth    |
        | /healthz | signed-bearer-token auth |

    Scenario Outline: A health endpoint refuses <method>
      Given a daemon on loopback with no auth
      When a client sends <method> /readyz with no headers
      Then the daemon answers 405 with an empty body
      And the answer has the header "allow: GET,HEAD"

      Examples:
        | method |
        | POST   |
        | PUT    |

    Scenario: A client that asks to close gets connection: close
      Given a daemon on loopback with no auth
      When a client sends GET /readyz with headers Connection: "close"
      Then the daemon answers 200 with an empty body
      And the answer has the header "connection: close"

    Scenario: Health checks keep an HTTP/1.1 connection open
      Given a daemon on loopback with no auth
      When a client sends GET /readyz and then GET /healthz on one connection
      Then both are answered 200 with an empty body and no connection header

    Scenario: HEAD of a health endpoint says content-length 0
      Given a daemon on loopback with no auth
      When a client sends HEAD /healthz with no headers
      Then the daemon answers 200 with an empty body
      And the answer has the header "content-length: 0"

  Rule: Only WebSocket upgrades are served; the handshake headers are checked before auth

    Scenario Outline: A plain GET of <path> with <auth> is not an upgrade
      Given a daemon on loopback with <auth>
      When a client sends GET <path> with no headers
      Then the daemon answers 400 with the text "Connection header did not include 'upgrade'"

      Examples:
        | path  | auth                     |
        | /     | no auth                  |
        | /foo  | no auth                  |
        | /     | capability-token auth    |
        | /     | signed-bearer-token auth |

    Scenario Outline: An upgrade without Sec-WebSocket-Key is refused before auth (<auth>)
      Given a daemon on loopback with <auth>
      When a client upgrades on path / without the Sec-WebSocket-Key header, with headers (none)
      Then the daemon answers 400 with the text "`Sec-WebSocket-Key` header missing"

      Examples:
        | auth                  |
        | no auth               |
        | capability-token auth |

    Scenario Outline: A handshake with <case> is refused
      Given a daemon on loopback with capability-token auth
      When a client sends <request> with headers <headers>
      Then the daemon answers <status> with the text "<reason>"

      Examples:
        | case                        | request               | headers                           | status | reason                                              |
        | POST instead of GET         | a POST upgrade of /   | Authorization: "Bearer {token}"   | 405    | Request method must be `GET`                        |
        | Upgrade: foo                | an upgrade of /       | Upgrade: "foo"                    | 400    | `Upgrade` header did not include 'websocket'        |
        | Sec-WebSocket-Version 12    | an upgrade of /       | Sec-WebSocket-Version: "12"       | 400    | `Sec-WebSocket-Version` header did not include '13' |

    Scenario: Sec-WebSocket-Key is checked before Sec-WebSocket-Version
      Given a daemon on loopback with no auth
      When a client upgrades on path / without the Sec-WebSocket-Key and Sec-WebSocket-Version headers, with headers (none)
      Then the daemon answers 400 with the text "`Sec-WebSocket-Key` header missing"

    Scenario Outline: Header names and the Connection list are read as HTTP says (<case>)
      Given a daemon on loopback with capability-token auth
      When a client sends an upgrade of / with headers <headers>
      Then the upgrade is accepted

      Examples:
        | case                           | headers                                                              |
        | a lower-case header name       | authorization: "Bearer {token}"                                      |
        | Connection: keep-alive, Upgrade | Connection: "keep-alive, Upgrade" + Authorization: "Bearer {token}" |
        | Upgrade: WebSocket             | Upgrade: "WebSocket" + Authorization: "Bearer {token}"               |

    Scenario Outline: An upgrade on <path> is accepted: the path is ignored
      Given a daemon on loopback with no auth
      When a client upgrades on path <path> with headers (none)
      Then the upgrade is accepted

      Examples:
        | path       |
        | /          |
        | /foo       |
        | /some/path |

    Scenario: An accepted upgrade negotiates no extension, no subprotocol and no compression
      Given a daemon on loopback with no auth
      When a client upgrades on path / with headers Sec-WebSocket-Extensions: "permessage-deflate; client_max_window_bits" + Sec-WebSocket-Protocol: "codex" + x-codex-app-server-compression: "zstd-stream-v1"
      Then the upgrade is accepted
      And the answer has the header "connection: upgrade"
      And the answer has the header "upgrade: websocket"
      And the answer carries the right Sec-WebSocket-Accept
      And the answer has no header "sec-websocket-extensions"
      And the answer has no header "sec-websocket-protocol"
      And the answer has no header "x-codex-app-server-compression"

    Scenario: Without auth a stray bearer token is ignored
      Given a daemon on loopback with no auth
      When a client upgrades on path / with headers Authorization: "Bearer anything"
      Then the upgrade is accepted

  Rule: Any request carrying an Origin header is refused with an empty 403, before anything else

    Scenario Outline: Origin "<origin>" on <request> with <auth>
      Given a daemon on loopback with <auth>
      When a client sends <request> with headers Origin: "<origin>"
      Then the daemon answers 403 with an empty body

      Examples:
        | request         | origin                  | auth                  |
        | an upgrade of / | null                    | no auth               |
        | an upgrade of / | http://localhost        | no auth               |
        | an upgrade of / | http://127.0.0.1:{port} | no auth               |
        | GET /readyz     | http://localhost        | no auth               |
        | GET /           | http://localhost        | no auth               |
        | an upgrade of / | http://localhost        | capability-token auth |

    Scenario: Origin is refused even with the right capability token
      Given a daemon on loopback with capability-token auth
      When a client upgrades on path / with headers Authorization: "Bearer {token}" + Origin: "http://localhost"
      Then the daemon answers 403 with an empty body
