@daemon @remote_control
Feature: The Mac's server token: renewed before reconnecting when the relay refuses it, enrolled again when the backend forgot it
  Codex on the Mac connects to the relay with the server token its enrollment gave it. When the relay refuses that
  token (HTTP 401 or 403), the daemon renews the token before it reconnects; the real daemon logs
  `remote control websocket auth failed with HTTP {status}; refreshing server token before reconnect`. When the
  backend answers the renewal with 404, it no longer knows the Mac: the daemon forgets its enrollment and enrolls
  again. Both daemons are held to this (`--daemon mock|codex`).

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device
    And Dana turns on "Allow other devices to connect" on her Mac

  Rule: A refused server token is renewed before the Mac reconnects

    Scenario Outline: The relay refuses the Mac's token with HTTP <status>
      Given the relay refuses Dana's Mac's next connection with HTTP <status>
      When the relay drops Dana's Mac's connection
      Then her Mac's daemon logs "remote control websocket auth failed with HTTP <status> <reason>; refreshing server token before reconnect"
      And the backend renewed her Mac's server token
      And her Mac connects to the relay again

      Examples:
        | status | reason       |
        | 401    | Unauthorized |
        | 403    | Forbidden    |

  Rule: A renewal the backend answers with 404 makes the Mac enroll again

    Scenario: The backend no longer knows the Mac's enrollment when it asks for a new token
      Given the relay refuses Dana's Mac's next connection with HTTP 401
      And the backend answers her Mac's next server-token renewal with HTTP 404
      When the relay drops Dana's Mac's connection
      Then the backend enrolled her Mac again
      And her Mac connects to the relay again
      And her Mac has a remote-control enrollment
