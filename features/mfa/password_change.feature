@mfa @seed
Feature: Changing the password must not strand the phone on "Setup failed"
  The story that started pairsim. Dana has MFA and a paired-ready Mac. She changes her ChatGPT password, which signs
  Codex out everywhere. Codex on her Mac signs in again but does not complete multi-factor authentication, so the
  backend refuses to enroll the Mac for remote control with HTTP 403 {"detail":"Multi-factor authentication
  required"}. Today her phone then only says "Setup failed. Couldn't finish secure setup. Try again." and people
  reinstalled apps for hours. With the fix, the Mac and the phone both say what to do, and doing it works.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: After a password change and a sign-in without MFA, Dana learns what to do and pairing then works

    Scenario Outline: Dana changes her password, and her Mac signs in again without MFA
      When Dana changes her ChatGPT password
      And Dana signs in to Codex on her Mac again without completing multi-factor authentication
      Then the backend refuses to enroll the Mac because multi-factor authentication is required:
        """
        {"detail":"Multi-factor authentication required"}
        """
      And her Mac has no remote-control enrollment
      And Codex on her Mac reports the remote-control status "<Mac status>"
      When Dana scans the pairing code with her phone
      Then her phone shows the "<phone message>" message
      When Dana sets up multi-factor authentication on her account again
      And Dana signs in to Codex on her Mac again with multi-factor authentication
      Then Codex on her Mac reports the remote-control status "connected"
      When Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

      @fixed
      Examples: with the typed-error fix, the phone says what to do
        | Mac status           | phone message |
        | blocked_mfa_required | mfa required  |

      @legacy
      Examples: today's behaviour, the bug: a generic failure everywhere
        | Mac status | phone message |
        | errored    | unknown       |
