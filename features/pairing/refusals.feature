@pairing @refusals
Feature: The phone says why it cannot connect
  Each known reason a pairing is refused has its own message on the phone, saying what to do. None of them may fall
  back to a generic failure.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication and the team workspace "Acme"
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: The Mac must accept connections and the code must still be unused

    Scenario Outline: The code cannot be used: <title>
      Given <what happened before the scan>
      When Dana scans the pairing code with her phone
      Then her phone shows "<title>" and says "<message>"
      And her phone does not fall back to a generic failure

      Examples:
        | what happened before the scan                               | title                           | message                                                                                                                                  |
        | Dana turns off "Allow other devices to connect" on her Mac | Connections are off on your Mac | Your Mac isn't accepting connections. In Codex on your Mac, turn on Settings › Connections › Allow other devices to connect, then scan again. |
        | 10 minutes and 30 seconds pass                              | Code expired                    | This pairing code has expired. Show a new code in Codex on your Mac and scan again.                                                      |
        | Dana's tablet has already used the pairing code             | Code already used               | This code was already used by another device. For your security, start pairing again on your Mac.                                        |

  Rule: Only the Mac's owner, signed in to the Mac's workspace, can pair

    Scenario Outline: The wrong person or workspace: <title>
      Given Sam has a ChatGPT account with multi-factor authentication
      When <who scans>
      Then the phone shows "<title>" and says "<message>"
      And the phone does not fall back to a generic failure

      Examples:
        | who scans                                                                 | title               | message                                                                                                              |
        | Sam scans Dana's pairing code with his own phone                          | Different account   | This Mac is signed in to a different ChatGPT account. Sign in on your phone with the account you use in Codex on your Mac. |
        | Dana scans the pairing code with her phone, choosing the "Acme" workspace | Different workspace | This Mac uses a different ChatGPT workspace. Sign in again and choose the workspace you use in Codex on your Mac.          |

  Rule: A person may try at most ten pairing codes a minute

    Scenario Outline: Dana keeps scanning a code that no longer works, then waits a minute
      Given the pairing code expires before anyone scans it
      And Dana scans the pairing code with her phone 10 times in a row
      When Dana scans the pairing code with her phone
      Then her phone shows "<title>" and says "<message>"
      When a minute passes
      And Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

      @fixed
      Examples: with the typed-error fix
        | title             | message                                                   |
        | Too many attempts | Too many pairing attempts. Wait a minute, then try again. |

      @legacy
      Examples: today's phone
        | title          | message                                                      |
        | Pairing failed | An error occurred while pairing. Please scan the code again. |
