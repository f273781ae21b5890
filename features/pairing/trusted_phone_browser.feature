@pairing @mfa @daemon
Feature: A phone whose browser skips the authenticator cannot pair
  openai/codex#39959. Dana once signed in to ChatGPT on her phone and let its browser remember her device. When she
  scans the pairing code, the sign-in asks her only for her password: the browser is a trusted device, so the
  authenticator step is skipped, while her account requires multi-factor authentication for remote control. The
  backend refuses the claim, and the code stays unclaimed on the Mac. Today the phone says only "An error occurred
  while pairing"; with the fix it says what to do. Signing out of ChatGPT in the phone's browser makes the next
  sign-in ask for the authenticator code, and pairing then works.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana signed in to ChatGPT on her phone before, and its browser remembers her device
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: A sign-in that skipped the authenticator cannot claim the code; signing out of it brings the authenticator back

    Scenario Outline: Dana scans the code from a phone whose browser remembers her device, then signs out and pairs
      When Dana scans the pairing code with her phone
      Then the sign-in on her phone did not ask for her authenticator code
      And her phone shows "<title>" and says "<message>"
      And her Mac's pairing code is still unclaimed
      When Dana signs out of ChatGPT in her phone's browser
      And Dana scans the pairing code with her phone
      Then the sign-in on her phone asked for her authenticator code
      And her phone is connected to her Mac
      And her Mac's pairing code has been claimed

      @fixed
      Examples: with the typed-error fix, the phone names the cause and the action
        | title                           | message                                                                                                                                                                                              |
        | Sign in with your authenticator | This phone signed in to ChatGPT without your authenticator code, because its browser remembers this device. Pairing needs multi-factor authentication: sign out of ChatGPT in the browser, then scan the code again and enter your authenticator code. |

      @legacy
      Examples: today's phone, as in the report
        | title          | message                                                      |
        | Pairing failed | An error occurred while pairing. Please scan the code again. |
