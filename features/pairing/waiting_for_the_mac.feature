@daemon @pairing
Feature: A paired phone waits for its Mac only while nobody knows why the Mac is gone
  A phone that is open on its Mac hears from the relay when the Mac's daemon leaves. Today's app then shows
  "Waiting for desktop" / "Waiting for computer response" and keeps waiting, however long the Mac stays errored
  (openai/codex#27167, openai/codex#24046, openai/codex#23289, openai/codex#22715): the reason (a refused
  enrollment) is only in the Mac's log. With the fix the relay tells the phone why the Mac cannot come back, and the
  phone stops waiting and says what to do. A Mac that only lost its connection is still waited for.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    And Dana scans the pairing code with her phone

  Scenario Outline: The Mac can no longer connect while the phone is open on it
    When Dana quits the browser on her Mac
    And Dana signs in to Codex on her Mac again
    And 2 minutes pass
    Then her phone ends up showing "<title>" and says "<says>"

    @legacy
    Examples: today's app waits, however long
      | title               | says                          |
      | Waiting for desktop | Waiting for computer response |

    @fixed
    Examples: with the fix the phone names the Mac's cause
      | title                               | says                                                                                                                                                                   |
      | Turn on multi-factor authentication | Your Mac needs multi-factor authentication enabled before iPhone setup can finish. Enable MFA on your ChatGPT account, sign in to Codex on your Mac again, then retry. |

  Scenario: A Mac that only lost its connection is waited for, and the phone carries on when it is back
    When Dana's Mac loses its internet connection for 2 minutes
    Then her phone ends up showing "Waiting for desktop" and says "Waiting for computer response"
    When 2 minutes pass
    Then her phone carries on with her Mac
