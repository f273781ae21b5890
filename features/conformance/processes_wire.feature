@daemon @remote_control @conformance
Feature: What crosses the wire when Codex restarts, the Mac changes account, or a phone is removed
  The wire-level half of features/remote_control/processes.feature: the daemon's enrollment table, what it asked the
  backend, its status and its log, the desktop's own log and the backend's answer to a removed phone. Our mock
  daemon is held to what the real Codex daemon 0.169.0 does here (`--daemon codex` runs the same scenarios).

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication and the team workspace "Acme"
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device
    And Dana turns on "Allow other devices to connect" on her Mac

  Rule: A restarted daemon reads its enrollment from disk and renews it

    Scenario: The Codex daemon restarts and renews the enrollment it kept
      When the Codex daemon on her Mac restarts
      Then Codex on her Mac reports the remote-control status "connected"
      And the backend renewed the Mac's enrollment instead of enrolling it again
      And her Mac keeps a remote-control enrollment for Dana's "Personal" workspace

  Rule: Enrollments are kept per account: a switch leaves the old one on disk and enrolls the new account

    Scenario: Codex switches to a workspace that the remembered browser signs in to without MFA
      When Dana switches Codex on her Mac to the "Acme" workspace
      Then her Mac keeps a remote-control enrollment for Dana's "Personal" workspace
      And her Mac has no remote-control enrollment for Dana's "Acme" workspace
      And the Mac's daemon logs the refusal with the backend's response body

    Scenario: Codex switches to another person's account, signed in with MFA
      Given Sam has a ChatGPT account with multi-factor authentication
      When Dana switches Codex on her Mac to Sam's ChatGPT account
      Then her Mac keeps a remote-control enrollment for Dana's "Personal" workspace
      And her Mac has a remote-control enrollment for Sam's "Personal" workspace
      And Codex on her Mac reports the remote-control status "connected"

  Rule: Signed out with connections on, today's daemon keeps its enrollment and keeps asking for a sign-in

    @legacy
    Scenario: Codex on the Mac signs out
      When Dana signs out of Codex on her Mac
      Then Codex on her Mac reports the remote-control status "errored"
      And the Mac's daemon logs "remote control requires ChatGPT authentication"
      And her Mac keeps a remote-control enrollment for Dana's "Personal" workspace

  Rule: A removed phone, as the backend and the desktop see it

    Background:
      Given Dana shows the pairing code on her Mac
      And Dana scans the pairing code with her phone
      And Dana sees her phone among the devices that control her Mac

    @legacy
    Scenario: Today's desktop logs that the phone it waits for was revoked
      When Dana removes her phone in Settings › Connections on her Mac
      And Dana shows a new pairing code on her Mac
      Then the desktop's log on her Mac says "Remote-control client has been revoked"

    @legacy
    Scenario: Today's backend refuses a removed phone's connection with a 403 that says it was revoked
      When Dana removes her phone from the devices in her ChatGPT account
      And Dana's phone app is killed and opened again
      Then the backend refused the phone's connection with HTTP 403 and the body '{"detail":"Remote-control client has been revoked"}'
