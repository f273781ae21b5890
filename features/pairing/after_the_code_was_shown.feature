@pairing @refusals
Feature: Something changes between showing the code and scanning it
  Dana's Mac, signed in to her team workspace "Acme", shows its pairing code. Before she scans it, something changes:
  her workspace's admin turns remote control off, her account moves to a region without it, or she quits Codex on
  her Mac. Her phone must say what changed and what to do. Today it says only that pairing, or setup, failed.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication and the team workspace "Acme"
    And Dana is signed in to Codex on her Mac with multi-factor authentication, in the "Acme" workspace
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: The workspace, the region and the Mac are checked again when the phone uses the code

    Scenario Outline: After the code was shown, <what changed>; then Dana scans it
      Given <what changed>
      When Dana scans the pairing code with her phone, choosing the "Acme" workspace
      Then her phone shows "<title>" and says "<message>"

      @fixed
      Examples: with the typed-error fix, the phone names what changed
        | what changed                                                      | title                        | message                                                                                                         |
        | the "Acme" workspace does not allow remote control                | Blocked by your workspace    | Your workspace admin doesn't allow phones to control Codex on this Mac. Ask your admin to allow remote control. |
        | Dana's account is in a region where remote control is not offered | Not available in your region | Controlling Codex from your phone isn't available in your account's region yet.                                 |
        | Dana quits Codex on her Mac                                       | Mac not responding           | Your Mac stopped responding. Make sure it's awake, online and has Codex open, then try again.                   |

      @legacy
      Examples: today's phone says only where setup stopped
        | what changed                                                      | title          | message                                                      |
        | the "Acme" workspace does not allow remote control                | Pairing failed | An error occurred while pairing. Please scan the code again. |
        | Dana's account is in a region where remote control is not offered | Pairing failed | An error occurred while pairing. Please scan the code again. |
        | Dana quits Codex on her Mac                                       | Setup failed   | Setup failed. Couldn't finish secure setup. Try again.       |
