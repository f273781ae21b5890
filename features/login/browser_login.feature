@login
Feature: Signing in to Codex with the browser
  `codex login` starts a small login server on this computer, prints a sign-in link and waits. Dana signs in in
  her browser, which is sent back to the login server with a one-time code; the CLI exchanges it for her tokens
  and saves them. Whatever else reaches the login server (a stale tab, a forged link, a cancel) must not sign
  anyone in.

  Background:
    Given Dana has a ChatGPT account

  Rule: Signing in through the browser saves the tokens

    Scenario: Dana signs in through her browser
      Given Dana runs "codex login"
      When Dana signs in with her browser
      Then her browser shows "Signed in to Codex"
      And the terminal says "Successfully logged in"
      And Dana's sign-in is saved in auth.json, readable only by her

    Scenario: Dana checks who is signed in, signs out, and checks again
      Given Dana runs "codex login"
      When Dana signs in with her browser
      Then the terminal says "Successfully logged in"
      When Dana runs "codex login status"
      Then the command says "Logged in using ChatGPT"
      When Dana runs "codex logout"
      Then the command says "Successfully logged out"
      When Dana runs "codex login status"
      Then the command says "Not logged in"

    Scenario: The sign-in link is the one the real CLI prints, aimed at our sign-in service
      Given Dana runs "codex login"
      Then the terminal says "Starting local login server on http://localhost:<port>."
      And the sign-in link asks for a code with PKCE, state and the Codex CLI scopes

    Scenario: Dana cancels on the consent page
      Given Dana runs "codex login"
      When Dana signs in with her browser but cancels on the consent page
      Then the terminal says "Error logging in: Sign-in failed: the user cancelled sign-in"
      And nothing is saved

  Rule: The login server answers what reaches it the way the real CLI does

    @real_login
    Scenario Outline: A callback with the wrong state is refused and the login keeps waiting (<cli>)
      Given Dana runs "codex login" with <cli>
      When a browser tab opens the callback with a state that is not the login's
      Then the login server answers 400 "State mismatch"
      And the login is still waiting for the browser

      Examples:
        | cli        |
        | pairsim    |
        | real codex |

    @real_login
    Scenario Outline: The callback reports an error from the sign-in service (<cli>)
      Given Dana runs "codex login" with <cli>
      When the sign-in service sends the browser back with the error "access_denied" and "nope"
      Then the login server shows its sign-in error page
      And the terminal says "Error logging in: Sign-in failed: nope"
      And the login has ended with exit code 1

      Examples:
        | cli        |
        | pairsim    |
        | real codex |

    @real_login
    Scenario Outline: A callback without a code ends the login (<cli>)
      Given Dana runs "codex login" with <cli>
      When the browser comes back with the right state and no code
      Then the terminal says "Error logging in: Missing authorization code. Sign-in could not be completed."
      And the login has ended with exit code 1

      Examples:
        | cli        |
        | pairsim    |
        | real codex |

    @real_login
    Scenario Outline: Opening /cancel stops the login (<cli>)
      Given Dana runs "codex login" with <cli>
      When something opens "/cancel" on the login server
      Then the login server answers 200 "Login cancelled"
      And the terminal says "Error logging in: Login cancelled"
      And the login has ended with exit code 1

      Examples:
        | cli        |
        | pairsim    |
        | real codex |

    @real_login
    Scenario Outline: Any other path is not found (<cli>)
      Given Dana runs "codex login" with <cli>
      When something opens "/" on the login server
      Then the login server answers 404 "Not Found"
      And the login is still waiting for the browser

      Examples:
        | cli        |
        | pairsim    |
        | real codex |
