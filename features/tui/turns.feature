@daemon @tui
Feature: Deciding on Codex's requests in the real TUI
  Dana works in the Codex TUI (codex 0.169.0, `codex --remote`) in her project on her Mac. Codex (the mock daemon
  or the real one, `--daemon`) plays the backend model's scripted turn: it asks to create a branch for the fix, then
  to change the login timeout. What the Mac did with her decisions is read from the project, not off the screen.

  Background:
    Given Dana has a ChatGPT account
    And Dana is signed in to Codex on her Mac with ChatGPT
    And Dana opens the Codex TUI in her project on her Mac

  @approvals
  Rule: Dana decides in the TUI on what Codex asks to do

    Background:
      When she asks Codex in the TUI to "Fix the flaky login test"
      Then the TUI asks to approve the command "git switch -c fix-flaky-login"

    Scenario Outline: Dana decides on a command in the TUI: she <decides> it
      When she <decides> it in the TUI
      Then Codex on her Mac <did with the command>

      Examples:
        | decides  | did with the command         |
        | approves | ran the command she approved |
        | declines | has not run the command      |

    Scenario Outline: Dana decides on a file change in the TUI: she <decides> it
      When she approves it in the TUI
      Then the TUI asks to approve the change to "src/login.py"
      When she <decides> it in the TUI
      Then Codex on her Mac <did with the file>
      And the TUI shows the turn <ended>

      Examples:
        | decides  | did with the file                      | ended       |
        | approves | changed "src/login.py" as she approved | completed   |
        | declines | left "src/login.py" as it was          | interrupted |

  Rule: Dana interrupts Codex from the TUI

    Scenario: Dana interrupts Codex while it is thinking, and nothing it meant to do happens
      Given Codex takes its time to answer
      When she asks Codex in the TUI to "Fix the flaky login test"
      And she interrupts Codex in the TUI while it is thinking
      Then the TUI shows the turn interrupted
      And Codex's model saw the turn interrupted
      When Codex answers at once again
      And she asks Codex in the TUI to "Explain the login timeout"
      Then the TUI shows the turn completed
      And Codex on her Mac has not run the command
      And Codex on her Mac left "src/login.py" as it was
