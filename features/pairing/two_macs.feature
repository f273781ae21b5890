@pairing
Feature: One phone with two Macs
  Dana uses Codex on her MacBook Pro and on her Mac Studio. She pairs her phone with both, and picks on the phone
  which Mac she follows and steers; what she approves goes to that Mac only.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana also has Codex on "Dana's Mac Studio", with 5 threads
    And Dana is signed in to Codex on "Dana's MacBook Pro" with multi-factor authentication
    And Dana is signed in to Codex on "Dana's Mac Studio" with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on "Dana's MacBook Pro"
    And Dana turns on "Allow other devices to connect" on "Dana's Mac Studio"

  Rule: Dana pairs one phone with each of her Macs

    Scenario: Both of Dana's Macs are ready to pair
      Then Settings › Connections on "Dana's MacBook Pro" says "Ready. Scan the QR code with your phone to connect."
      And Settings › Connections on "Dana's Mac Studio" says "Ready. Scan the QR code with your phone to connect."

    Scenario: Dana pairs one phone with each of her Macs
      When Dana shows the pairing code on "Dana's MacBook Pro"
      And Dana scans the pairing code with her phone
      And Dana shows the pairing code on "Dana's Mac Studio"
      And Dana scans the pairing code with her phone
      Then her phone lists "Dana's MacBook Pro" and "Dana's Mac Studio"
      And her phone shows "Dana's Mac Studio" with "5 threads"

  Rule: Dana uses one phone with both her Macs

    Background:
      Given Dana shows the pairing code on "Dana's MacBook Pro"
      When Dana scans the pairing code with her phone
      And Dana shows the pairing code on "Dana's Mac Studio"
      And Dana scans the pairing code with her phone

    Scenario Outline: Dana switches her phone to one of her Macs
      When Dana switches her phone to "<mac>"
      Then her phone shows "<mac>" with "<threads>"

      Examples:
        | mac                | threads   |
        | Dana's MacBook Pro | 3 threads |
        | Dana's Mac Studio  | 5 threads |

    @approvals
    Scenario Outline: What Dana approves happens only on the Mac her phone is switched to
      When Dana switches her phone to "<mac>"
      And Dana asks Codex from her phone to "Fix the flaky login test"
      Then her phone asks Dana "Approve command?" with "Codex wants to run `git switch -c fix-flaky-login` in {project folder}."
      When Dana approves it on her phone
      Then Codex on "<mac>" ran the command she approved
      And her phone asks Dana "Approve file change?" with "Codex wants to change {project folder}/src/login.py."
      And Codex on "<mac>" has her decision and asks about the file change next
      When Dana approves it on her phone
      Then Codex on "<mac>" changed "src/login.py" as she approved
      And Codex on "<other>" has run nothing from her phone
      And Codex on "<other>" has not run the command
      And Codex on "<other>" left "src/login.py" as it was

      Examples:
        | mac                | other              |
        | Dana's MacBook Pro | Dana's Mac Studio  |
        | Dana's Mac Studio  | Dana's MacBook Pro |
