@mfa @seed
Feature: Changing the password must not strand the phone on "Setup failed"
  The story that started pairsim (openai/codex#24328). Dana has multi-factor authentication, and when she first
  signed in to Codex on her Mac she let the browser remember her device. She changes her ChatGPT password, which
  signs Codex out everywhere. Codex on her Mac signs in again, and because the browser is remembered the sign-in
  asks only for the new password: the session carries no multi-factor authentication, so the backend refuses to
  enroll the Mac for remote control. Today her phone then only says "Setup failed" and people reinstalled apps for
  hours. With the fix, the Mac and the phone say what to do, and doing it works: setting up the authenticator again
  makes every remembered browser prove it once more.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: After a password change the remembered Mac signs in without MFA; Dana learns what to do, and then pairing works

    Scenario Outline: Dana changes her password, and her Mac signs in again without being asked for MFA
      When Dana changes her ChatGPT password
      And Dana signs in to Codex on her Mac again
      Then the sign-in on her Mac did not ask for her authenticator code
      And her Mac has no remote-control enrollment
      And Settings › Connections on her Mac says "<Mac says>"
      When Dana scans the pairing code with her phone
      Then her phone says "<phone says>"
      When Dana sets up multi-factor authentication on her account again
      And Dana signs in to Codex on her Mac again
      Then the sign-in on her Mac asked for her authenticator code
      And Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."
      When Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

      @fixed
      Examples: with the typed-error fix, the Mac and the phone say what to do
        | Mac says                                                                                                                                          | phone says                                                                                                                                                    |
        | Multi-factor authentication is required before this Mac can be controlled from iPhone. Open account security settings, enable MFA, then sign in to Codex again. | Your Mac needs multi-factor authentication enabled before iPhone setup can finish. Enable MFA on your ChatGPT account, sign in to Codex on your Mac again, then retry. |

      @legacy
      Examples: today's behaviour, the bug: a generic failure everywhere
        | Mac says                   | phone says                                             |
        | Remote control is errored. | Setup failed. Couldn't finish secure setup. Try again. |
