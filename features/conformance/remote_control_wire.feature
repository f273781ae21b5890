@daemon @remote_control @conformance
Feature: What crosses the wire when a Mac enrolls, pairs and is refused
  The wire-level half of features/remote_control: the backend's records, the daemon's JSON-RPC answers and status
  values, the refusal body the backend sends and the line the daemon logs for it. The same scenarios run with our
  mock daemon and with the real Codex daemon (`--daemon codex`).

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device

  Rule: Enrollment and pairing, on the wire

    Scenario: Turning on connections enrolls the Mac with the backend
      When Dana turns on "Allow other devices to connect" on her Mac
      Then Codex on her Mac reports the remote-control status "connected"
      And the backend enrolled the Mac for Dana's workspace, under the daemon's installation id and server name

    Scenario: The Mac's daemon hands out a pairing code and a code to type
      Given Dana turns on "Allow other devices to connect" on her Mac
      When the desktop asks the Mac's daemon for a pairing code with a code to type
      Then the daemon answers with a pairing code for its environment
      And the code to type looks like "ABCD-1234"
      And the pairing code expires in 10 minutes, in unix seconds

    Scenario: A phone initializes the daemon through the relay
      Given Dana turns on "Allow other devices to connect" on her Mac
      When Dana shows the pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone initialized the Mac's daemon through the relay and read its threads

  Rule: The refusal of a sign-in without multi-factor authentication, on the wire (the seed)

    Background:
      Given Dana turns on "Allow other devices to connect" on her Mac
      And Dana quits the browser on her Mac
      When Dana signs in to Codex on her Mac again

    Scenario: The backend refuses with the seed's response, and the daemon logs it
      Then the backend refuses to enroll the Mac because multi-factor authentication is required:
        """
        {"detail":"Multi-factor authentication required"}
        """
      And the Mac's daemon logs the refusal with the backend's response body

    @legacy
    Scenario: Today's daemon reports the refusal as errored
      Then Codex on her Mac reports the remote-control status "errored"

    @fixed @xfail_on_codex:real_daemon_hides_the_mfa_refusal
    Scenario: With the fix, the daemon reports that it is blocked until MFA is done
      Then Codex on her Mac reports the remote-control status "blocked_mfa_required"
