@enrollment
Feature: Settings › Connections says how Dana's Mac stands with remote control
  Under Settings › Connections, Codex on Dana's Mac says in one line whether other devices can connect, and if not,
  why. The line must follow what really happens: the switch, the ChatGPT service's answer, the Mac's internet
  connection and Dana's ChatGPT sign-in.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication

  Rule: Until Dana turns connections on, other devices cannot connect

    Scenario: Dana has not turned on connections
      Then Settings › Connections on her Mac says "Other devices can't connect. Turn on Allow other devices to connect to pair a phone."
      When Dana shows the pairing code on her Mac
      Then her Mac shows "Other devices can't connect. Turn on Allow other devices to connect to pair a phone." instead of a pairing code

  Rule: Turning connections on enrolls the Mac with the ChatGPT service, and the line says how that went

    Scenario Outline: Dana turns on connections while <what is going on>
      Given <what is going on>
      When Dana turns on "Allow other devices to connect" on her Mac
      Then Settings › Connections on her Mac says "<Mac says>"

      Examples:
        | what is going on                                                        | Mac says                            |
        | the ChatGPT service is slow to answer the Mac's enrollment              | Connecting to Codex remote control… |
        | the ChatGPT service fails the Mac's next enrollment with a server error | Remote control is errored.          |
        | Dana's Mac loses its internet connection                                | Remote control is errored.          |

    Scenario: The Mac shows no pairing code until the ChatGPT service has answered
      Given the ChatGPT service is slow to answer the Mac's enrollment
      When Dana turns on "Allow other devices to connect" on her Mac
      And Dana shows the pairing code on her Mac
      Then her Mac shows "This Mac is still enrolling with ChatGPT, so there is no pairing code yet. Keep Codex open: the code appears here as soon as enrollment completes." instead of a pairing code
      When the ChatGPT service answers the Mac's enrollment
      Then Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."
      When Dana shows the pairing code on her Mac
      Then her Mac shows a pairing code to scan

  Rule: Changing the ChatGPT password signs Codex out, and the line says to sign in again

    Scenario Outline: Dana changes her ChatGPT password and does not sign in to Codex again yet
      Given Dana turns on "Allow other devices to connect" on her Mac
      When Dana changes her ChatGPT password
      Then Settings › Connections on her Mac says "<Mac says>"
      When Dana signs in to Codex on her Mac again
      Then Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."

      @fixed
      Examples: with the typed-error fix
        | Mac says                                                                      |
        | Your ChatGPT sign-in expired. Sign in to Codex again to reconnect your phone. |

      @legacy
      Examples: today's Mac
        | Mac says                   |
        | Remote control is errored. |
