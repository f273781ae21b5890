@login
Feature: When the login port is taken
  The login server wants 127.0.0.1:1455. When another program holds it, the CLI first asks it to stop (an older
  `codex login` does, on `GET /cancel`), keeps trying for about two seconds, then moves to the registered
  fallback port 1457. Only when that is taken too does the login fail.

  Background:
    Given Dana has a ChatGPT account

  Rule: A busy port is asked to cancel, then the login moves to the fallback port

    Scenario: The preferred port is busy and the login moves to the fallback port
      Given another program listens on the preferred login port
      When Dana runs "codex login" with a preferred and a fallback port
      Then the other program was sent "/cancel"
      And the terminal says "Starting local login server on http://localhost:<fallback port>."
      When Dana signs in with her browser
      Then the terminal says "Successfully logged in"

    Scenario: Both ports are busy and the login fails
      Given another program listens on the preferred login port
      And another program listens on the fallback login port
      When Dana runs "codex login" with a preferred and a fallback port
      Then the terminal says "Error logging in: Port 127.0.0.1:<fallback port> is already in use"
      And only the program on the preferred port was sent "/cancel"

    Scenario: An older login on the port is cancelled and gives way to the new one
      Given Dana runs "codex login"
      When Dana runs "codex login" again on the same port
      Then the first login ends with "Error logging in: Login cancelled"
      And the new login serves on the same port

  @real_login
  Rule: On the product's own ports 1455 and 1457

    Scenario Outline: Port 1455 is busy and the login moves to 1457 (<cli>)
      Given another program listens on port 1455
      When Dana runs "codex login" with <cli> on the product's ports
      Then the other program was sent "/cancel"
      And the terminal says "Starting local login server on http://localhost:1457."
      And the sign-in link sends the browser back to "http://127.0.0.1:1457/auth/callback"

      Examples:
        | cli        |
        | pairsim    |
        | real codex |

    Scenario Outline: Ports 1455 and 1457 are both busy (<cli>)
      Given another program listens on port 1455
      And another program listens on port 1457
      When Dana runs "codex login" with <cli> on the product's ports
      Then the terminal says "Error logging in: Port 127.0.0.1:1457 is already in use"
      And the login has ended with exit code 1
      And only the program on port 1455 was sent "/cancel"

      Examples:
        | cli        |
        | pairsim    |
        | real codex |
