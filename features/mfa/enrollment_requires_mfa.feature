@mfa
Feature: Remote control needs a sign-in with multi-factor authentication
  The backend enrolls a Mac for remote control only when Codex signed in with multi-factor authentication. When it
  refuses, every surface must say so and say what to do, instead of "Setup failed".

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: A sign-in without multi-factor authentication cannot enroll the Mac

    Scenario Outline: The backend refuses the enrollment with the seed's response
      When Dana signs in to Codex on her Mac again without completing multi-factor authentication
      Then the backend refuses to enroll the Mac because multi-factor authentication is required:
        """
        {"detail":"Multi-factor authentication required"}
        """
      And her Mac has no remote-control enrollment

      @fixed
      Examples: with the typed-error fix
        | profile |
        | fixed   |

      @legacy
      Examples: today's backend
        | profile |
        | legacy  |

  @fixed
  Rule: With the fix, each surface names multi-factor authentication as the cause

    Background:
      When Dana signs in to Codex on her Mac again without completing multi-factor authentication

    Scenario: The Mac's status says it is blocked until MFA is done
      Then Codex on her Mac reports the remote-control status "blocked_mfa_required"
      And Settings › Connections on her Mac explains how to fix "mfa required"

    Scenario: The Mac explains the fix instead of showing a pairing code that cannot work
      When Dana shows a new pairing code on her Mac
      Then her Mac explains how to fix "mfa required" instead of showing a pairing code

    Scenario: pairsim doctor names the cause and the action
      Then pairsim doctor says the remote-control enrollment is blocked by "mfa required"

    Scenario: The phone shows the MFA message, not the generic one
      When Dana scans the pairing code with her phone
      Then her phone shows the "mfa required" message
      And her phone does not fall back to the generic setup failure

  Rule: The generic message is only for a cause the phone does not know

    Scenario: An unknown error still gets the generic message
      Given the backend fails the next pairing claim with an error no phone knows
      When Dana scans the pairing code with her phone
      Then her phone shows the "unknown" message
      And her phone says "Setup failed. Couldn't finish secure setup. Try again."
