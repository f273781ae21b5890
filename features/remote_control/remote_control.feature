@daemon @remote_control
Feature: Remote control through our backend, with either daemon behind it
  The same scenarios run with our mock daemon (`--daemon mock`) and with the real Codex daemon 0.169.0
  (`--daemon codex`), both enrolling with our backend and serving a phone through our relay. The real daemon is
  today's product: where only the typed-error fix can pass, the scenario says so with `@xfail_on_codex`. What
  crosses the wire (bodies, statuses, log lines) is checked in features/conformance.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device

  Rule: A Mac signed in with multi-factor authentication pairs a phone

    Scenario: Turning on connections makes the Mac ready to pair
      When Dana turns on "Allow other devices to connect" on her Mac
      Then Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."
      And her Mac has a remote-control enrollment

    Scenario: A phone pairs through the relay
      Given Dana turns on "Allow other devices to connect" on her Mac
      When Dana shows the pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac
      And her Mac's pairing code has been claimed

  Rule: A sign-in that skipped the authenticator cannot keep the Mac enrolled (the seed)

    Background:
      Given Dana turns on "Allow other devices to connect" on her Mac
      And Dana shows the pairing code on her Mac
      And Dana quits the browser on her Mac
      When Dana signs in to Codex on her Mac again

    @legacy
    Scenario: Today's Mac only says that remote control is errored
      Then Settings › Connections on her Mac says "Remote control is errored."

    @fixed @xfail_on_codex:real_daemon_shows_the_mfa_refusal_as_errored
    Scenario: With the fix, the Mac names multi-factor authentication as the cause
      Then Settings › Connections on her Mac says "Multi-factor authentication is required before this Mac can be controlled from iPhone. Open account security settings, enable MFA, then sign in to Codex again."

    @legacy @xfail_on_mock:mock_has_no_remote_control_cli
    Scenario: The command line says only that the connection is errored
      Then "codex remote-control" on her Mac says "Remote control is enabled on {server name} but the connection is errored."

    Scenario Outline: What the phone says when it scans the code the Mac showed before
      When Dana scans the pairing code with her phone
      Then her phone says "<phone says>"

      @legacy
      Examples: today's product: the generic failure
        | phone says                                             |
        | Setup failed. Couldn't finish secure setup. Try again. |

      @fixed
      Examples: with the typed-error fix (the backend's half of it)
        | phone says                                                                                                                                                    |
        | Your Mac needs multi-factor authentication enabled before iPhone setup can finish. Enable MFA on your ChatGPT account, sign in to Codex on your Mac again, then retry. |
