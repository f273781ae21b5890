@remote_control @control_other_devices
Feature: One Mac controlling another through the relay
  Dana has Codex on her Mac and on her MacBook Air, both signed in to the same ChatGPT account. In Settings ›
  Connections › Control other devices, her MacBook Air lists her Mac, shows whether it is online, and pairs with it
  the way a phone does, with the code to type her Mac shows. Then she works on her Mac from her MacBook Air: its
  threads, a request to Codex, an approval. What her Mac did is read from her Mac's project. Scenarios tagged
  `@daemon` also run with the real Codex daemon as her Mac.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana also has a MacBook Air with Codex, signed in to the same ChatGPT account

  Rule: Her MacBook Air lists her Mac, pairs with it and controls it

    @daemon
    Scenario: Her MacBook Air lists her Mac as online
      Then her MacBook Air lists her Mac as "Online"

    @daemon
    Scenario: Her MacBook Air pairs with her Mac with the code to type
      When Dana shows the code to type on her Mac
      And Dana pairs her MacBook Air with her Mac using that code
      Then her MacBook Air is connected to her Mac and lists its threads

    @daemon @approvals
    Scenario: What Dana approves on her MacBook Air happens on her Mac
      Given Dana shows the code to type on her Mac
      And Dana pairs her MacBook Air with her Mac using that code
      When Dana asks Codex on her Mac from her MacBook Air to "Fix the flaky login test"
      Then her MacBook Air asks Dana "Approve command?" with "Codex wants to run `git switch -c fix-flaky-login` in {project folder}."
      When Dana approves it on her MacBook Air
      Then Codex on her Mac ran the command she approved
      And her MacBook Air asks Dana "Approve file change?" with "Codex wants to change {project folder}/src/login.py."
      When Dana approves it on her MacBook Air
      Then Codex on her Mac changed "src/login.py" as she approved

  Rule: Her MacBook Air shows at once whether her Mac accepts connections

    Background:
      Given Dana shows the code to type on her Mac
      And Dana pairs her MacBook Air with her Mac using that code

    @daemon
    Scenario: Turning off connections on her Mac shows it offline on her MacBook Air, turning them on brings it back
      When Dana turns off "Allow other devices to connect" on her Mac
      Then her MacBook Air shows her Mac "Offline" at once
      And her MacBook Air lists her Mac as "Offline"
      When Dana turns on "Allow other devices to connect" on her Mac
      Then her MacBook Air shows her Mac "Online" at once
      And her MacBook Air lists her Mac as "Online"

  Rule: Pairing ends paired, or on a message that names the cause, whatever fault strikes

    @daemon
    Scenario Outline: Dana pairs her MacBook Air with her Mac while <fault>
      Given Dana shows the code to type on her Mac
      And <fault>
      When Dana pairs her MacBook Air with her Mac using that code
      Then her MacBook Air ends <outcome>

      Examples:
        | fault                                                                             | outcome                                                                                                    |
        | ChatGPT answers the controlling Mac's pairing request with HTTP 503 once          | on "The ChatGPT service could not pair this Mac just now (HTTP 503). Try again in a moment."              |
        | ChatGPT answers the controlling Mac's pairing request with HTTP 429 once          | on "Too many pairing attempts. Wait a minute and try again."                                             |
        | the relay refuses Dana's MacBook Air's next connection with HTTP 502              | connected to her Mac                                                                                       |
        | the relay refuses Dana's MacBook Air's next 2 connections with HTTP 503           | connected to her Mac                                                                                       |
        | the relay closes Dana's MacBook Air's connection with code 1011 after 1 message   | connected to her Mac                                                                                       |
        | Dana's MacBook Air loses its internet connection for 30 seconds                   | on "This Mac is offline. Check its internet connection and try again."                                   |
        | 11 minutes pass                                                                   | on "This code is no longer valid: it expired or another device used it. Show a new code to type on the other Mac and try again." |
        | Dana's Mac loses its internet connection for 30 seconds                           | on "{server name} is offline. Your pairing is kept: it opens once {server name} is back online."          |

    @daemon
    Scenario: Her MacBook Air pairs once its internet connection is back
      Given Dana shows the code to type on her Mac
      And Dana's MacBook Air loses its internet connection for 30 seconds
      And Dana pairs her MacBook Air with her Mac using that code
      When 30 seconds pass
      And Dana pairs her MacBook Air with her Mac using that code
      Then her MacBook Air ends connected to her Mac

    @daemon
    Scenario: The relay drops her MacBook Air's connection after pairing, and it opens her Mac again
      Given Dana shows the code to type on her Mac
      And Dana pairs her MacBook Air with her Mac using that code
      When the relay drops Dana's MacBook Air's connection
      And Dana opens her Mac on her MacBook Air
      Then her MacBook Air is connected to her Mac and lists its threads

  Rule: Today's desktop hides why her Mac cannot be opened; the fix names the cause

    Background:
      Given Dana shows the code to type on her Mac
      And Dana pairs her MacBook Air with her Mac using that code

    # openai/codex#23933, openai/codex#23915: her Mac is listed and online, but the MacBook Air's pairing is no longer accepted.
    @legacy @daemon
    Scenario: A day later, today's desktop lists her Mac online but cannot open it
      Given Dana closes her Mac on her MacBook Air
      When 25 hours pass
      And Dana opens her Mac on her MacBook Air
      Then her MacBook Air lists her Mac as "Online"
      And her MacBook Air says "Connecting…" and "Remote control enrollment requires explicit authorization in settings." for her Mac

    @fixed @daemon
    Scenario: A day later, the fix says that the MacBook Air's pairing has expired
      Given Dana closes her Mac on her MacBook Air
      When 25 hours pass
      And Dana opens her Mac on her MacBook Air
      Then her MacBook Air lists her Mac as "Online"
      And her MacBook Air says "Not connected" and "This Mac's pairing with {server name} has expired. Show a code to type on {server name} and pair again." for her Mac

    # openai/codex#26193: Dana removes her MacBook Air on her Mac, then adds it again.
    @legacy @daemon
    Scenario: Adding her MacBook Air again after removing it: today's desktop
      Given Dana removes her MacBook Air from her Mac's connections
      And Dana shows the code to type on her Mac
      When Dana pairs her MacBook Air with her Mac using that code
      Then her MacBook Air says "Connecting…" and "Failed to update connections." for her Mac

    @fixed @daemon
    Scenario: Adding her MacBook Air again after removing it: the fix pairs it as a new device
      Given Dana removes her MacBook Air from her Mac's connections
      And Dana shows the code to type on her Mac
      When Dana pairs her MacBook Air with her Mac using that code
      Then her MacBook Air is connected to her Mac and lists its threads

    # openai/codex#41398: paired on both sides; after Codex restarts on the MacBook Air every message fails.
    @legacy @daemon
    Scenario: After Codex restarts on her MacBook Air, today's desktop has no connection registered for her Mac
      When Codex on her MacBook Air quits and starts again
      And Dana opens her Mac on her MacBook Air
      Then her MacBook Air says "Connecting…" and "No AppServerManager registered for hostId: remote-control:{host id}" for her Mac

    @fixed @daemon
    Scenario: After Codex restarts on her MacBook Air, the fix opens her Mac as before
      When Codex on her MacBook Air quits and starts again
      And Dana opens her Mac on her MacBook Air
      Then her MacBook Air is connected to her Mac and lists its threads

  Rule: Her phone reaches her Mac while her MacBook Air's connection to the relay never opens

    # openai/codex#27231, openai/codex#34010
    Background:
      Given Dana shows the pairing code on her Mac
      And Dana scans the pairing code with her phone
      And something on her MacBook Air's network holds WebSocket connections
      And Dana shows the code to type on her Mac

    @legacy @daemon
    Scenario: Today's desktop says the opening handshake timed out
      When Dana pairs her MacBook Air with her Mac using that code
      Then her MacBook Air is still connecting to her Mac
      When 30 seconds pass
      Then her MacBook Air says "Connection failed" and "Opening handshake has timed out" for her Mac
      And her MacBook Air lists her Mac as "Online"
      And her phone is connected to her Mac

    @fixed @daemon
    Scenario: The fix says that something on her MacBook Air's network holds the connection
      When Dana pairs her MacBook Air with her Mac using that code
      And 30 seconds pass
      Then her MacBook Air says "Not connected" and "{server name} is online, but this Mac's connection to the relay did not open within 30 seconds. Something on this Mac's network, such as a proxy or firewall, is holding WebSocket connections." for her Mac
      And her phone is connected to her Mac

  Rule: Turning on "Control other devices" says what failed

    # openai/codex#35351: remote control on the Mac turned on, but the list of devices did not load.
    @legacy @daemon
    Scenario: Today's desktop says the remote control state could not be updated
      Given ChatGPT answers the list of devices with HTTP 503 once
      When Dana turns on "Control other devices" on her Mac, signed in there too
      Then remote control on her Mac is on and connected
      And "Control other devices" on her Mac says "Unable to update remote control state"

    @fixed @daemon
    Scenario: The fix says that the list of devices could not be loaded
      Given ChatGPT answers the list of devices with HTTP 503 once
      When Dana turns on "Control other devices" on her Mac, signed in there too
      Then remote control on her Mac is on and connected
      And "Control other devices" on her Mac says "Control other devices is on, but the list of your devices could not be loaded: the ChatGPT service answered HTTP 503. Try again in a moment."
