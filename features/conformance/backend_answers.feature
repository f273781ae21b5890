@daemon @conformance
Feature: What each party does with an answer it did not expect from the ChatGPT service
  The steps that put an answer in the ChatGPT service's mouth (`the ChatGPT service answers <operation> with HTTP
  <status> and <body>`, `... only after <duration>`, `... is slow to answer ...`) work on both daemons. A proxy or a
  CDN that wants a browser answers with its own HTML page ("Enable JavaScript and cookies to continue") where every
  client expects JSON: the daemon, the phone and the desktop each turn it into a typed error with a message that says
  what came back, and every server goes on serving. A delayed answer comes when the scenario says time has passed,
  never after real seconds.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication

  Rule: The daemon reads a page where it expected JSON as a failed request, logs what came back, and tries again later

    Scenario: A proxy's challenge page answers the Mac's enrollment
      Given the ChatGPT service answers the Mac's enrollment with HTTP 503 and a proxy's challenge page once
      When Dana turns on "Allow other devices to connect" on her Mac
      Then the daemon on her Mac logged "HTTP 503 Service Unavailable"
      And the daemon on her Mac logged "Enable JavaScript and cookies to continue"
      When Dana turns off "Allow other devices to connect" on her Mac
      And Dana turns on "Allow other devices to connect" on her Mac
      Then Codex on her Mac reports the remote-control status "connected"

    Scenario: A page where the enrollment's JSON should be, with HTTP 200
      Given the ChatGPT service answers the Mac's enrollment with HTTP 200 and a proxy's challenge page once
      When Dana turns on "Allow other devices to connect" on her Mac
      Then the daemon on her Mac logged "failed to parse remote control server enrollment response"
      When Dana turns off "Allow other devices to connect" on her Mac
      And Dana turns on "Allow other devices to connect" on her Mac
      Then Codex on her Mac reports the remote-control status "connected"

    Scenario: A request named by its path gets the answer the scenario gave it
      Given Dana turns on "Allow other devices to connect" on her Mac
      And the ChatGPT service answers the request to "/backend-api/wham/remote/control/server/pair" with HTTP 404 and the JSON {"detail":"Not Found"} every time
      When Dana shows the pairing code on her Mac
      Then the ChatGPT service answered the Mac's pairing request with HTTP 404
      And Codex on her Mac reports the remote-control status "connected"

  Rule: The phone reads a page where it expected JSON as a refused claim, and can scan again

    Scenario Outline: A proxy's challenge page answers the phone's pairing claim once
      Given Dana turns on "Allow other devices to connect" on her Mac
      And Dana shows the pairing code on her Mac
      And the ChatGPT service answers the phone's pairing claim with HTTP 403 and a proxy's challenge page once
      When Dana scans the pairing code with her phone
      Then her phone says "<phone says>"
      And the ChatGPT service answered the phone's pairing claim with HTTP 403
      When Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

      @legacy
      Examples:
        | phone says                                                   |
        | An error occurred while pairing. Please scan the code again. |

      @fixed
      Examples:
        | phone says                                             |
        | Setup failed. Couldn't finish secure setup. Try again. |

  Rule: A delayed answer comes once the scenario says the time has passed

    Scenario: ChatGPT is 30 seconds slow to answer the Mac's pairing request
      Given Dana turns on "Allow other devices to connect" on her Mac
      And the ChatGPT service answers the Mac's pairing request only after 30 seconds
      When Dana shows the pairing code on her Mac
      And 29 seconds pass
      Then the ChatGPT service is still keeping the Mac's pairing request waiting
      When a second passes
      Then the pairing code appears on her Mac

    Scenario: ChatGPT keeps the Mac's pairing request waiting until it answers at last
      Given Dana turns on "Allow other devices to connect" on her Mac
      And the ChatGPT service is slow to answer the Mac's pairing request
      When Dana shows the pairing code on her Mac
      And 10 minutes pass
      Then the ChatGPT service is still keeping the Mac's pairing request waiting
      When the ChatGPT service answers the Mac's pairing request at last
      Then the pairing code appears on her Mac
