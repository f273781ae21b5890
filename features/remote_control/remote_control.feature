@daemon @remote_control
Feature: Remote control through our backend, with either daemon behind it
  The same scenarios run with our mock daemon (`--daemon mock`) and with the real Codex daemon 0.169.0
  (`--daemon codex`), both enrolling with our backend and serving a phone through our relay. The real daemon is
  today's product: where only the typed-error fix can pass, the scenario says so with `@xfail_on_codex`.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication

  Rule: A Mac signed in with multi-factor authentication enrolls and pairs a phone

    Scenario: Turning on connections enrolls the Mac with the backend
      When Dana turns on "Allow other devices to connect" on her Mac
      Then Codex on her Mac reports the remote-control status "connected"
      And the backend enrolled the Mac for Dana's workspace, under the daemon's installation id and server name
      And her Mac has a remote-control enrollment

    Scenario: The Mac's daemon hands out a pairing code and a code to type
      Given Dana turns on "Allow other devices to connect" on her Mac
      When the desktop asks the Mac's daemon for a pairing code with a code to type
      Then the daemon answers with a pairing code for its environment
      And the code to type looks like "ABCD-1234"
      And the pairing code expires in 10 minutes, in unix seconds

    Scenario: A phone pairs through the relay and talks to the daemon behind it
      Given Dana turns on "Allow other devices to connect" on her Mac
      When Dana shows the pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac
      And her phone initialized the Mac's daemon through the relay and read its threads

  Rule: A sign-in without multi-factor authentication cannot keep the Mac enrolled (the seed)

    Background:
      Given Dana turns on "Allow other devices to connect" on her Mac
      And Dana shows the pairing code on her Mac
      When Dana signs in to Codex on her Mac again without completing multi-factor authentication

    Scenario: The backend refuses with the seed's response, and the daemon logs it
      Then the backend refuses to enroll the Mac because multi-factor authentication is required:
        """
        {"detail":"Multi-factor authentication required"}
        """
      And the Mac's daemon logs the refusal with the backend's response body

    @legacy
    Scenario: Today's Mac only says that remote control is errored
      Then Codex on her Mac reports the remote-control status "errored"
      And Settings › Connections on her Mac shows the "errored" text

    @fixed @xfail_on_codex:real_daemon_hides_the_mfa_refusal
    Scenario: With the fix, the Mac names multi-factor authentication as the cause
      Then Codex on her Mac reports the remote-control status "blocked_mfa_required"
      And Settings › Connections on her Mac shows the "mfa required" text

    @legacy @xfail_on_mock:mock_has_no_remote_control_cli
    Scenario: The command line says only that the connection is errored
      Then "codex remote-control" on her Mac says "Remote control is enabled on {server name} but the connection is errored."

    Scenario Outline: What the phone says when it scans the code the Mac showed before: <profile>
      When Dana scans the pairing code with her phone
      Then her phone shows the "<phone message>" message

      @legacy
      Examples: today's product: the generic failure
        | profile | phone message |
        | legacy  | unknown       |

      @fixed
      Examples: with the typed-error fix (the backend's half of it)
        | profile | phone message |
        | fixed   | mfa required  |
