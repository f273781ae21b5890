@daemon
Feature: WebSocket auth with signed bearer tokens
  `--ws-auth signed-bearer-token` admits a client whose bearer token is an HS256 JWT signed with the shared secret
  (the secret file's bytes, whitespace-trimmed, at least 32 bytes). `exp` is required and must be an integer;
  `nbf` is optional; both allow a clock skew (30 s unless `--ws-max-clock-skew-seconds` says otherwise): a token
  is expired when now > exp + skew and not valid yet when nbf > now + skew. `iss` and `aud` are checked only when
  `--ws-issuer` / `--ws-audience` are given. Checks run in this order: signature and format, exp, nbf, iss, aud.
  Reference: codex app-server 0.169.0, observed behaviour §3.5.

  In the tables a JWT is written as its header and claims. `now+N` is the current unix time plus N seconds
  (rounded up for nbf and down for exp, so that each boundary case keeps a full second for the round trip),
  `str(...)` and `float(...)` give that time as a JSON string or float, `absent` leaves the claim out, and any
  other value is JSON (a bare word is a string). "the secret" is the trimmed shared secret, "the untrimmed secret"
  the secret file's bytes including its trailing newline.

  Rule: A token must be a well-formed HS256 JWT signed with the shared secret

    Scenario Outline: Token check: <case>
      Given a daemon on loopback with signed-bearer-token auth
      When a client upgrades with a JWT {<header>} {<claims>} signed with <key>
      Then the daemon answers <status> with the text "<reason>"

      Examples: refused
        | case                          | header                    | claims                                       | key                  | status | reason                          |
        | no iss claim                  | alg=HS256 typ=JWT         | aud=test-aud exp=now+300                     | the secret           | 401    | websocket jwt issuer mismatch   |
        | a wrong issuer                | alg=HS256 typ=JWT         | iss=other aud=test-aud exp=now+300           | the secret           | 401    | websocket jwt issuer mismatch   |
        | no aud claim                  | alg=HS256 typ=JWT         | iss=test-issuer exp=now+300                  | the secret           | 401    | websocket jwt audience mismatch |
        | an empty aud list             | alg=HS256 typ=JWT         | iss=test-issuer aud=[] exp=now+300           | the secret           | 401    | websocket jwt audience mismatch |
        | a wrong audience              | alg=HS256 typ=JWT         | iss=test-issuer aud=other exp=now+300        | the secret           | 401    | websocket jwt audience mismatch |
        | no exp claim                  | alg=HS256 typ=JWT         | iss=test-issuer aud=test-aud                 | the secret           | 401    | invalid websocket jwt           |
        | exp as a string               | alg=HS256 typ=JWT         | iss=test-issuer aud=test-aud exp=str(now+300) | the secret          | 401    | invalid websocket jwt           |
        | exp as a float                | alg=HS256 typ=JWT         | iss=test-issuer aud=test-aud exp=float(now+300) | the secret        | 401    | invalid websocket jwt           |
        | a bad signature               | alg=HS256 typ=JWT         | iss=test-issuer aud=test-aud exp=now+300     | another secret       | 401    | invalid websocket jwt           |
        | the untrimmed secret          | alg=HS256 typ=JWT         | iss=test-issuer aud=test-aud exp=now+300     | the untrimmed secret | 401    | invalid websocket jwt           |
        | alg none                      | alg=none typ=JWT          | iss=test-issuer aud=test-aud exp=now+300     | no key               | 401    | invalid websocket jwt           |
        | alg HS384                     | alg=HS384 typ=JWT         | iss=test-issuer aud=test-aud exp=now+300     | the secret           | 401    | invalid websocket jwt           |
        | alg HS512                     | alg=HS512 typ=JWT         | iss=test-issuer aud=test-aud exp=now+300     | the secret           | 401    | invalid websocket jwt           |

      Examples: accepted
        | case                          | header                    | claims                                            | key        | status | reason |
        | a valid token                 | alg=HS256 typ=JWT         | iss=test-issuer aud=test-aud iat=now exp=now+300  | the secret | 101    |        |
        | aud as a list                 | alg=HS256 typ=JWT         | iss=test-issuer aud=["other","test-aud"] exp=now+300 | the secret | 101 |        |
        | iat an hour ahead             | alg=HS256 typ=JWT         | iss=test-issuer aud=test-aud iat=now+3600 exp=now+300 | the secret | 101 |       |
        | a kid header and no typ       | alg=HS256 kid=key-1       | iss=test-issuer aud=test-aud exp=now+300          | the secret | 101    |        |
        | typ at+jwt                    | alg=HS256 typ=at+jwt      | iss=test-issuer aud=test-aud exp=now+300          | the secret | 101    |        |
        | exp ten years ahead           | alg=HS256 typ=JWT         | iss=test-issuer aud=test-aud exp=now+315360000    | the secret | 101    |        |

    Scenario Outline: A bearer token that is not a JWT (<token>)
      Given a daemon on loopback with signed-bearer-token auth
      When a client upgrades on path / with headers <headers>
      Then the daemon answers 401 with the text "<reason>"

      Examples:
        | token      | headers                           | reason                         |
        | not.a.jwt  | Authorization: "Bearer not.a.jwt" | invalid websocket jwt          |
        | none       | (none)                            | missing websocket bearer token |

  Rule: exp and nbf allow the configured clock skew, 30 seconds by default

    Scenario Outline: exp at now<offset> with a skew of <skew>
      Given a daemon on loopback with signed-bearer-token auth and a clock skew of <skew>
      When a client upgrades with a JWT {alg=HS256 typ=JWT} {iss=test-issuer aud=test-aud exp=now<offset>} signed with the secret
      Then the daemon answers <status> with the text "<reason>"

      Examples:
        | skew        | offset | status | reason                |
        | the default | -29    | 101    |                       |
        | the default | -31    | 401    | expired websocket jwt |
        | the default | -90    | 401    | expired websocket jwt |
        | 30 seconds  | -29    | 101    |                       |
        | 30 seconds  | -31    | 401    | expired websocket jwt |
        | 0 seconds   | +5     | 101    |                       |
        | 0 seconds   | -5     | 401    | expired websocket jwt |
        | 0 seconds   | -29    | 401    | expired websocket jwt |
        | 120 seconds | -31    | 101    |                       |
        | 120 seconds | -119   | 101    |                       |
        | 120 seconds | -121   | 401    | expired websocket jwt |
        | 120 seconds | -299   | 401    | expired websocket jwt |

    Scenario Outline: nbf at now<offset> with a skew of <skew>
      Given a daemon on loopback with signed-bearer-token auth and a clock skew of <skew>
      When a client upgrades with a JWT {alg=HS256 typ=JWT} {iss=test-issuer aud=test-aud nbf=now<offset> exp=now+300} signed with the secret
      Then the daemon answers <status> with the text "<reason>"

      Examples:
        | skew        | offset | status | reason                         |
        | the default | +25    | 101    |                                |
        | the default | +31    | 401    | websocket jwt is not valid yet |
        | the default | +90    | 401    | websocket jwt is not valid yet |
        | 0 seconds   | +5     | 401    | websocket jwt is not valid yet |
        | 120 seconds | +90    | 101    |                                |

  Rule: The first failing check decides the reason: signature and format, exp, nbf, iss, aud

    Scenario Outline: Check order: <case>
      Given a daemon on loopback with signed-bearer-token auth
      When a client upgrades with a JWT {alg=HS256 typ=JWT} {<claims>} signed with <key>
      Then the daemon answers 401 with the text "<reason>"

      Examples:
        | case                            | claims                                          | key            | reason                          |
        | expired and a wrong issuer      | iss=other aud=test-aud exp=now-90               | the secret     | expired websocket jwt           |
        | not yet valid and a wrong issuer | iss=other aud=test-aud nbf=now+90 exp=now+300  | the secret     | websocket jwt is not valid yet  |
        | not yet valid and expired       | iss=test-issuer aud=test-aud nbf=now+90 exp=now-90 | the secret  | expired websocket jwt           |
        | a bad signature and expired     | iss=test-issuer aud=test-aud exp=now-90         | another secret | invalid websocket jwt           |
        | a wrong issuer and audience     | iss=other aud=other exp=now+300                 | the secret     | websocket jwt issuer mismatch   |
        | exp as a string and nbf ahead   | iss=test-issuer aud=test-aud nbf=now+90 exp=str(now+300) | the secret | invalid websocket jwt  |

  Rule: Without --ws-issuer and --ws-audience, iss and aud are not checked

    Scenario Outline: Without issuer or audience, <case> is accepted
      Given a daemon on loopback with signed-bearer-token auth without issuer or audience
      When a client upgrades with a JWT {alg=HS256 typ=JWT} {<claims>} signed with the secret
      Then the upgrade is accepted

      Examples:
        | case                  | claims                          |
        | no iss and no aud     | exp=now+300                     |
        | any iss and aud       | iss=anyone aud=anything exp=now+300 |

  Rule: exp and nbf are signed 64-bit integers

    Scenario Outline: 64-bit claims: <claims>
      Given a daemon on loopback with signed-bearer-token auth without issuer or audience
      When a client upgrades with a JWT {alg=HS256 typ=JWT} {<claims>} signed with the secret
      Then the daemon answers <status> with the text "<reason>"

      Examples:
        | claims                          | status | reason                |
        | exp=-1                          | 401    | expired websocket jwt |
        | exp=-9223372036854775808        | 401    | expired websocket jwt |
        | exp=9223372036854775808         | 401    | invalid websocket jwt |
        | nbf=-5 exp=now+300              | 101    |                       |
        | nbf=9223372036854775808 exp=now+300 | 401 | invalid websocket jwt |
