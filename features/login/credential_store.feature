@login
Feature: Where the CLI keeps Dana's sign-in
  `cli_auth_credentials_store` decides where tokens go: `file` (auth.json, readable only by the user), `keyring`
  (the system keyring), `auto` (the keyring when there is one, else the file) or `ephemeral` (memory only, gone
  when the CLI exits). Tokens never show up in logs or reports.

  Background:
    Given Dana has a ChatGPT account

  Rule: Each mode keeps the sign-in where it says

    Scenario Outline: Signing in with the <mode> credential store
      Given this machine <keyring>
      And Dana runs "codex login" with the <mode> credential store
      When Dana signs in with her browser
      Then the terminal says "Successfully logged in"
      And Dana's sign-in is kept in <place>

      Examples:
        | mode      | keyring          | place        |
        | file      | has a keyring    | auth.json    |
        | keyring   | has a keyring    | the keyring  |
        | auto      | has a keyring    | the keyring  |
        | auto      | has no keyring   | auth.json    |
        | ephemeral | has a keyring    | memory only  |

    Scenario: Asking for the keyring on a machine without one
      Given this machine has no keyring
      When Dana runs "pairsim login --credentials-store keyring"
      Then the command says "pairsim: error: No keyring is available on this machine. Use --credentials-store file or auto, or install a keyring."

  Rule: Tokens never appear in logs or reports

    Scenario: A whole sign-in leaves no token in the output, the logs or the report
      Given Dana runs "codex login"
      When Dana signs in with her browser
      Then no token Dana received appears in the terminal, the logs or the scenario report
