@pairing
Feature: Pairing a phone with Codex on a Mac
  Dana uses Codex on her Mac. She pairs her phone by scanning the code Codex shows, signs in to ChatGPT on the
  phone (password, then her authenticator app), and from then on follows and steers Codex from the phone.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac

  Rule: Someone with multi-factor authentication pairs by scanning the code on her Mac

    Scenario: Dana's Mac is ready to pair
      Then Codex on her Mac reports the remote-control status "connected"
      And Settings › Connections on her Mac says "connected"
      And her Mac has a remote-control enrollment
      And pairsim doctor says the remote-control enrollment is ok

    Scenario: Dana pairs her phone and sees her Mac's threads
      When Dana shows the pairing code on her Mac
      Then her Mac shows a pairing code to scan
      When Dana scans the pairing code with her phone
      Then her phone is connected to her Mac
      And her phone shows her Mac's threads

  @approvals
  Rule: Dana decides on Codex's requests from her phone

    Background:
      Given Dana shows the pairing code on her Mac
      When Dana scans the pairing code with her phone
      And Dana asks Codex from her phone to "Fix the flaky login test"

    Scenario Outline: Dana decides on a command from her phone
      Then her phone asks Dana to approve Codex's request to run a command
      When Dana <decides> it on her phone
      Then her phone confirms that she <decided> it
      And Codex on her Mac <did with the command>

      Examples:
        | decides  | decided  | did with the command         |
        | approves | approved | ran the command she approved |
        | declines | declined | has not run the command      |

    Scenario Outline: Dana decides on a file change from her phone
      Then her phone asks Dana to approve Codex's request to run a command
      When Dana approves it on her phone
      Then her phone asks Dana to approve Codex's request to change a file
      When Dana <decides> it on her phone
      Then her phone confirms that she <decided> it
      And Codex on her Mac <did with the file>

      Examples:
        | decides  | decided  | did with the file                      |
        | approves | approved | changed "src/login.py" as she approved |
        | declines | declined | left "src/login.py" as it was          |
