@daemon
Feature: Starting the daemon's WebSocket listener
  `app-server --listen ws://IP:PORT` takes IP literals only, port 0 picks a free port, and the five-line banner on
  stderr names the bound port. Values that do not parse are usage errors (exit 2, `error: ...`); flags that parse
  but do not fit together, unreadable or short secrets, and an unauthenticated non-loopback listener stop the start
  (exit 1, `Error: ...`). Reference: codex app-server 0.169.0, observed behaviour §3.1, §3.4 and §3.6.

  In the arguments, {token_file} is a file holding a token, {secret_file} a 49-byte shared secret,
  {short_secret_file} an 8-byte one, {blank_file} a file holding only whitespace, {home} the daemon's CODEX_HOME
  and {missing_file} a path with no file.

  Rule: The banner names the bound port and whether the listener is loopback-only

    Scenario Outline: Listening on <address>
      Given a daemon started with "--listen <address>"
      Then its banner says it listens on <address> with the bound port
      And its banner note is "binds localhost only (use SSH port-forwarding for remote access)"
      And it answers GET /readyz on loopback

      Examples:
        | address             |
        | ws://127.0.0.1:0    |
        | ws://127.0.0.2:0    |
        | ws://[::1]:0        |

  Rule: A non-loopback listener needs auth

    Scenario Outline: Refusing <address> without auth
      When the daemon is started with "--listen <address>"
      Then it exits with code 1 reporting "Error: refusing to start non-loopback websocket listener <authority> without auth; configure `--ws-auth capability-token` or `--ws-auth signed-bearer-token`"

      Examples:
        | address        | authority |
        | ws://0.0.0.0:0 | 0.0.0.0:0 |
        | ws://[::]:0    | [::]:0    |

    Scenario Outline: Listening on <address> with <mode> auth
      Given a daemon started with "--listen <address> <auth flags>"
      Then its banner says it listens on <address> with the bound port
      And its banner note is "websocket auth is required for non-localhost listeners"
      And it answers GET /readyz on loopback

      Examples:
        | address        | mode                | auth flags                                                   |
        | ws://0.0.0.0:0 | capability-token    | --ws-auth capability-token --ws-token-file {token_file}      |
        | ws://[::]:0    | signed-bearer-token | --ws-auth signed-bearer-token --ws-shared-secret-file {secret_file} |

  Rule: A --listen value that does not parse is a usage error

    Scenario Outline: --listen <url>
      When the daemon is started with "--listen <url>"
      Then it exits with code 2 reporting "<error>"

      Examples:
        | url                   | error                                                                                                                                                                    |
        | ws://localhost:45012  | error: invalid value 'ws://localhost:45012' for '--listen <URL>': invalid websocket --listen URL `ws://localhost:45012`; expected `ws://IP:PORT`                        |
        | ws://127.0.0.1        | error: invalid value 'ws://127.0.0.1' for '--listen <URL>': invalid websocket --listen URL `ws://127.0.0.1`; expected `ws://IP:PORT`                                    |
        | http://127.0.0.1:45012 | error: invalid value 'http://127.0.0.1:45012' for '--listen <URL>': unsupported --listen URL `http://127.0.0.1:45012`; expected `stdio://`, `unix://`, `unix://PATH`, `ws://IP:PORT`, or `off` |
        | ws://127.0.0.1:99999  | error: invalid value 'ws://127.0.0.1:99999' for '--listen <URL>': invalid websocket --listen URL `ws://127.0.0.1:99999`; expected `ws://IP:PORT`                        |

  Rule: WebSocket auth flags must fit together and their files must be usable

    Scenario Outline: Flag check: <case>
      When the daemon is started with "--listen ws://127.0.0.1:0 <flags>"
      Then it exits with code <code> reporting "<error>"

      Examples:
        | case                                        | flags                                                                                  | code | error |
        | capability-token alone                      | --ws-auth capability-token                                                             | 1    | Error: `--ws-token-file` or `--ws-token-sha256` is required when `--ws-auth capability-token` is set |
        | a token file without --ws-auth              | --ws-token-file {token_file}                                                           | 1    | Error: websocket auth flags require `--ws-auth capability-token` or `--ws-auth signed-bearer-token` |
        | a token file and a digest                   | --ws-auth capability-token --ws-token-file {token_file} --ws-token-sha256 {token_sha256} | 1  | Error: `--ws-token-file` and `--ws-token-sha256` are mutually exclusive |
        | a digest that is not 64 hex digits          | --ws-auth capability-token --ws-token-sha256 abcd                                      | 1    | Error: --ws-token-sha256 must be a 64-character hex SHA-256 digest |
        | a missing token file                        | --ws-auth capability-token --ws-token-file {missing_file}                              | 1    | Error: failed to read websocket auth secret {missing_file}: No such file or directory (os error 2) |
        | signed-bearer-token alone                   | --ws-auth signed-bearer-token                                                          | 1    | Error: `--ws-shared-secret-file` is required when `--ws-auth signed-bearer-token` is set |
        | signed-bearer-token with a token file       | --ws-auth signed-bearer-token --ws-token-file {token_file}                             | 1    | Error: `--ws-token-file` and `--ws-token-sha256` require `--ws-auth capability-token`, not `signed-bearer-token` |
        | capability-token with an issuer             | --ws-auth capability-token --ws-token-file {token_file} --ws-issuer test-issuer        | 1    | Error: `--ws-shared-secret-file`, `--ws-issuer`, `--ws-audience`, and `--ws-max-clock-skew-seconds` require `--ws-auth signed-bearer-token` |
        | a shared secret of 8 bytes                  | --ws-auth signed-bearer-token --ws-shared-secret-file {short_secret_file}              | 1    | Error: signed websocket bearer secret {short_secret_file} must be at least 32 bytes |
        | a negative clock skew                       | --ws-auth signed-bearer-token --ws-shared-secret-file {secret_file} --ws-max-clock-skew-seconds -5 | 2 | error: unexpected argument '-5' found |
        | a clock skew too large for 64 bits          | --ws-auth signed-bearer-token --ws-shared-secret-file {secret_file} --ws-max-clock-skew-seconds 99999999999999999999 | 2 | error: invalid value '99999999999999999999' for '--ws-max-clock-skew-seconds <SECONDS>': number too large to fit in target type |
        | a clock skew that is not a number           | --ws-auth signed-bearer-token --ws-shared-secret-file {secret_file} --ws-max-clock-skew-seconds abc | 2 | error: invalid value 'abc' for '--ws-max-clock-skew-seconds <SECONDS>': invalid digit found in string |
        | an unknown auth mode                        | --ws-auth bogus                                                                        | 2    | error: invalid value 'bogus' for '--ws-auth <MODE>' |
        | a digest of 64 characters that are not hex  | --ws-auth capability-token --ws-token-sha256 gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg | 1 | Error: --ws-token-sha256 must be a 64-character hex SHA-256 digest |
        | a token file that is a directory            | --ws-auth capability-token --ws-token-file {home}                                      | 1    | Error: failed to read websocket auth secret {home}: Is a directory (os error 21) |
        | a token file holding only whitespace        | --ws-auth capability-token --ws-token-file {blank_file}                                | 1    | Error: websocket auth secret {blank_file} must not be empty |

  Rule: A usage error ends with clap's hint

    Scenario Outline: <case> ends with the hint
      When the daemon is started with "<arguments>"
      Then it exits with code 2 and its last stderr line is "For more information, try '--help'."

      Examples:
        | case                  | arguments                                                                  |
        | a listen URL with a host name | --listen ws://localhost:45012                                      |
        | an unknown auth mode  | --listen ws://127.0.0.1:0 --ws-auth bogus                                  |
        | a negative clock skew | --listen ws://127.0.0.1:0 --ws-auth signed-bearer-token --ws-shared-secret-file {secret_file} --ws-max-clock-skew-seconds -5 |

  Rule: Arguments clap cannot place are usage errors in clap's words

    Scenario Outline: Usage error: <case>
      When the daemon is started with "<arguments>"
      Then it exits with code 2 reporting "<error>"

      Examples:
        | case                               | arguments                                                         | error |
        | a negative skew written with =     | --listen ws://127.0.0.1:0 --ws-auth signed-bearer-token --ws-shared-secret-file {secret_file} --ws-max-clock-skew-seconds=-5 | error: invalid value '-5' for '--ws-max-clock-skew-seconds <SECONDS>': invalid digit found in string |
        | an unknown flag                    | --listen ws://127.0.0.1:0 --bogus-flag                            | error: unexpected argument '--bogus-flag' found |
        | --listen without a value           | --listen                                                          | error: a value is required for '--listen <URL>' but none was supplied |

  Rule: The stdio transport accepts the WebSocket auth flags and ends at the end of input

    Scenario: --listen stdio:// with capability-token flags exits 0 when its input ends
      When the daemon is started with "--listen stdio:// --ws-auth capability-token --ws-token-file {token_file}"
      Then it exits with code 0 reporting nothing
