@login
Feature: Signing in with a device code
  On a machine without a browser, `codex login --device-auth` prints a link and a one-time code. Dana opens the
  link on any device, signs in, types the code and authorizes Codex CLI; the CLI, which has been asking every few
  seconds, then receives her sign-in. The code is good for 15 minutes, and her account must allow device codes.

  Background:
    Given Dana has a ChatGPT account with device code sign-in enabled

  Rule: A device code signs the CLI in once the person authorizes it

    @real_login
    Scenario Outline: Dana signs in with a device code (<cli>)
      Given Dana runs "codex login --device-auth" with <cli>
      Then the terminal shows the device sign-in steps with a one-time code like "ABCD-1234"
      When Dana enters the code on the device page and authorizes Codex CLI
      Then the device page says "Codex is signed in. You can close this window and return to your terminal."
      And the terminal says "Successfully logged in"
      And Dana's sign-in is saved in auth.json, readable only by her

      Examples:
        | cli        |
        | pairsim    |
        | real codex |

    @real_login
    Scenario Outline: Dana denies the sign-in on the device page (<cli>)
      Given Dana runs "codex login --device-auth" with <cli>
      When Dana enters the code on the device page but cancels on the consent page
      Then the device page says "You denied this sign-in. Codex on your other device was not signed in."
      And the terminal says "Error logging in: device auth failed with status 400 Bad Request"
      And nothing is saved

      Examples:
        | cli        |
        | pairsim    |
        | real codex |

    Scenario: The CLI keeps asking at the interval the service sets until Dana has entered the code
      Given the sign-in service asks device logins to poll every 5 seconds
      And Dana runs "codex login --device-auth"
      When the CLI has asked 3 times without an answer
      And Dana enters the code on the device page and authorizes Codex CLI
      Then the terminal says "Successfully logged in"
      And the CLI waited 5 seconds between its questions

    Scenario: A mistyped code is refused on the device page
      Given Dana runs "codex login --device-auth"
      When Dana types the code "BCDF-0000" on the device page
      Then the device page says "That code isn't valid or has expired. Check the code in your terminal and try again."
      And the login is still waiting for the browser

  Rule: The account must allow device code sign-in

    @real_login
    Scenario Outline: Device codes are not enabled for Dana's account (<cli>)
      Given Dana has not enabled device code sign-in
      And Dana runs "codex login --device-auth" with <cli>
      When Dana opens the device page and signs in
      Then the device page says "Enable device code authorization for Codex in ChatGPT Security Settings, then run `codex login --device-auth` again."
      And the login is still waiting for the browser

      Examples:
        | cli        |
        | pairsim    |
        | real codex |

    @real_login
    Scenario Outline: The sign-in service does not offer device codes (<cli>)
      Given the sign-in service does not offer device code sign-in
      When Dana runs "codex login --device-auth" with <cli>
      Then the terminal says "Error logging in: device code login is not enabled for this Codex server. Use the browser login or verify the server URL."
      And the login has ended with exit code 1

      Examples:
        | cli        |
        | pairsim    |
        | real codex |

  Rule: A device code expires after 15 minutes

    Scenario: Nobody enters the code for 15 minutes
      Given Dana runs "codex login --device-auth"
      When 15 minutes pass
      Then the terminal says "Error logging in: device auth timed out after 15 minutes"
      And nothing is saved
