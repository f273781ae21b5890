@daemon
Feature: WebSocket auth with a capability token
  `--ws-auth capability-token` admits a client whose first Authorization header carries the token as a bearer
  token. The daemon holds either the token file (whitespace-trimmed) or only the token's SHA-256. Every refusal is
  a 401 with a plain-text reason and no WWW-Authenticate header.
  Reference: codex app-server 0.169.0, observed behaviour §3.4. In the tables, {token} stands for the daemon's
  capability token and {token_sha256} for its SHA-256 in lower-case hex.

  Rule: Only the first Authorization header counts, and only as a bearer token

    Scenario Outline: Refused: <case>
      Given a daemon on loopback with capability-token auth
      When a client upgrades on path <path> with headers <headers>
      Then the daemon answers <status> with the text "<reason>"

      Examples:
        | case                                  | path           | headers                                                                 | status | reason                         |
        | no Authorization header               | /              | (none)                                                                  | 401    | missing websocket bearer token |
        | a wrong token                         | /              | Authorization: "Bearer wrong-token"                                     | 401    | invalid websocket bearer token |
        | the token's SHA-256 instead of itself | /              | Authorization: "Bearer {token_sha256}"                                  | 401    | invalid websocket bearer token |
        | no scheme                             | /              | Authorization: "{token}"                                                | 401    | invalid authorization header   |
        | the Basic scheme                      | /              | Authorization: "Basic dXNlcjpwYXNz"                                     | 401    | invalid authorization header   |
        | a bare Bearer                         | /              | Authorization: "Bearer"                                                 | 401    | invalid authorization header   |
        | Bearer and a space                    | /              | Authorization: "Bearer "                                                | 401    | invalid authorization header   |
        | the token in the query only           | /?token={token} | (none)                                                                 | 401    | missing websocket bearer token |
        | the token as a subprotocol only       | /              | Sec-WebSocket-Protocol: "{token}"                                       | 401    | missing websocket bearer token |
        | a wrong header before the right one   | /              | Authorization: "Bearer wrong-token" + Authorization: "Bearer {token}"   | 401    | invalid websocket bearer token |

    Scenario Outline: Accepted: <case>
      Given a daemon on loopback with capability-token auth
      When a client upgrades on path / with headers <headers>
      Then the upgrade is accepted

      Examples:
        | case                                 | headers                                                               |
        | the token                            | Authorization: "Bearer {token}"                                       |
        | a lower-case scheme                  | Authorization: "bearer {token}"                                       |
        | an upper-case scheme                 | Authorization: "BEARER {token}"                                       |
        | two spaces after the scheme          | Authorization: "Bearer  {token}"                                      |
        | a trailing space                     | Authorization: "Bearer {token} "                                      |
        | the right header before a wrong one  | Authorization: "Bearer {token}" + Authorization: "Bearer wrong-token" |

    Scenario: A refusal has no WWW-Authenticate header and is plain text
      Given a daemon on loopback with capability-token auth
      When a client upgrades on path / with headers (none)
      Then the daemon answers 401 with the text "missing websocket bearer token"
      And the answer has the header "content-type: text/plain; charset=utf-8"
      And the answer has no header "www-authenticate"

  Rule: The token file is trimmed; a digest given instead of a file may be in either case

    Scenario Outline: A token file written as <content> admits the token <token>
      Given a daemon started with "--listen ws://127.0.0.1:0 --ws-auth capability-token --ws-token-file {file}" where the file holds <content>
      When a client upgrades on path / with headers Authorization: "Bearer <token>"
      Then the upgrade is accepted

      Examples:
        | content                | token            |
        | "cap-token-file\n"     | cap-token-file   |
        | "  cap-token-file \n\n" | cap-token-file  |
        | "short"                | short            |

    Scenario Outline: A token file path may be relative (<path>)
      Given a daemon started with "--listen ws://127.0.0.1:0 --ws-auth capability-token --ws-token-file <path>" where the file holds "relative-token"
      When a client upgrades on path / with headers Authorization: "Bearer relative-token"
      Then the upgrade is accepted

      Examples:
        | path         |
        | {file}       |
        | {file_name}  |

    Scenario Outline: A digest in <case> hex admits the token and refuses the digest itself
      Given a daemon on loopback with <auth>
      When a client upgrades on path / with headers Authorization: "Bearer {token}"
      Then the upgrade is accepted
      When a client upgrades on path / with headers Authorization: "Bearer {token_sha256}"
      Then the daemon answers 401 with the text "invalid websocket bearer token"

      Examples:
        | case       | auth                              |
        | lower-case | token-sha256 auth                 |
        | upper-case | token-sha256 auth in upper case   |
