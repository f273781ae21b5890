@pairing @refusals
Feature: The phone says why it cannot connect
  Each known reason a pairing is refused has its own message on the phone, saying what to do. None of them may fall
  back to the generic "Setup failed" message.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication and the team workspace "Acme"
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: The Mac must accept connections and the code must still be unused

    Scenario Outline: The code cannot be used: <situation>
      Given <what happened before the scan>
      When Dana scans the pairing code with her phone
      Then her phone shows the "<cause>" message
      And her phone does not fall back to the generic setup failure

      Examples:
        | situation                                   | what happened before the scan                               | cause                   |
        | Connections are turned off on the Mac       | Dana turns off "Allow other devices to connect" on her Mac | remote control disabled |
        | The code has expired                        | the pairing code expires before anyone scans it             | pairing code expired    |
        | The code was already used by another device | Dana's tablet has already used the pairing code             | pairing code claimed    |

  Rule: Only the Mac's owner, signed in to the Mac's workspace, can pair

    Scenario Outline: The wrong person or workspace: <situation>
      Given Sam has a ChatGPT account with multi-factor authentication
      When <who scans>
      Then the phone shows the "<cause>" message
      And the phone does not fall back to the generic setup failure

      Examples:
        | situation                                   | who scans                                                                 | cause              |
        | Another person's phone scans Dana's code    | Sam scans Dana's pairing code with his own phone                          | account mismatch   |
        | Dana's phone is signed in to her team       | Dana scans the pairing code with her phone, choosing the "Acme" workspace | workspace mismatch |
