@login
Feature: Signing in a CI machine with an access token
  A CI job cannot open a browser. `codex login --with-access-token` reads a ChatGPT access token from stdin and
  saves it. Only Business and Enterprise workspaces may sign in this way, and a token that expired or was revoked
  is refused with a message that says so.

  Rule: Only Business and Enterprise workspaces may sign in with an access token

    Scenario Outline: A <plan> workspace's access token (<outcome>)
      Given Dana has a ChatGPT account on the <plan> plan
      When the CI job pipes Dana's access token into "codex login --with-access-token"
      Then the CI log says "<message>"
      And the CI log never shows the access token

      Examples:
        | plan       | outcome  | message                                                                                                                                       |
        | business   | accepted | Successfully logged in                                                                                                                        |
        | enterprise | accepted | Successfully logged in                                                                                                                        |
        | plus       | refused  | Error logging in with access token: Access tokens can sign in Codex only for ChatGPT Business and Enterprise workspaces; this token belongs to a plus plan. |
        | free       | refused  | Error logging in with access token: Access tokens can sign in Codex only for ChatGPT Business and Enterprise workspaces; this token belongs to a free plan. |

  Rule: Expired, revoked and malformed tokens are refused

    Background:
      Given Dana has a ChatGPT account on the business plan

    Scenario: The access token has expired
      Given Dana's access token has expired
      When the CI job pipes Dana's access token into "codex login --with-access-token"
      Then the CI log says "Error logging in with access token: The access token has expired. Create a new one and try again."

    Scenario: The access token was revoked when Dana changed her password
      Given Dana changed her password after creating the access token
      When the CI job pipes Dana's access token into "codex login --with-access-token"
      Then the CI log says "Error logging in with access token: The access token has been revoked. Create a new one and try again."

    Scenario: Something that is not an access token
      When the CI job pipes "not-a-token" into "codex login --with-access-token"
      Then the CI log says "Error logging in with access token: External ChatGPT auth requires a valid ChatGPT access token JWT."

    Scenario: Nothing on stdin
      When the CI job pipes "" into "codex login --with-access-token"
      Then the CI log says "Reading access token from stdin..."
      And the CI log says "Error logging in with access token: No access token provided via stdin."

  Rule: The CLI says how it is signed in

    Scenario: After an access-token sign-in, the CLI's status says so
      Given Dana has a ChatGPT account on the business plan
      When the CI job pipes Dana's access token into "codex login --with-access-token"
      Then the CI log says "Successfully logged in"
      When Dana runs "codex login status"
      Then the command says "Logged in using access token"
