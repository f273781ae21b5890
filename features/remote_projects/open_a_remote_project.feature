@remote_projects @netns
Feature: Working in a project on another computer, from the Mac and from the phone
  Dana keeps the login service on her dev server, devbox. Codex on her Mac opens it as a remote project: the desktop
  app starts Codex on devbox and talks to it through an SSH tunnel, so commands run and files change on devbox. Her
  phone, paired with the Mac, follows that work through the Mac: it lists the Mac's remote projects, and what Codex
  on devbox asks her reaches her phone, and her answer goes back, through the Mac. Today's phone lists none of the
  Mac's remote projects (openai/codex#23527). When the connection to devbox drops, Codex on the Mac opens it again
  and picks up the thread where devbox is: what Dana approved is done once, and an answer she gave while devbox was
  out of reach is not lost. Codex on devbox is the real Codex, whichever Codex the Mac runs.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana has the project "login-service" on her dev server "devbox", with Codex signed in to her ChatGPT account
    And Dana opens the remote project "login-service" on "devbox" in Codex on her Mac

  Scenario: Codex on the Mac works in the remote project, and everything it does happens on devbox
    When Dana asks Codex on her Mac to "Fix the flaky login test" in the remote project on "devbox"
    And Dana approves the command in Codex on her Mac
    And Dana approves the file change in Codex on her Mac
    Then the project on "devbox" is on the branch "fix-flaky-login"
    And Codex on "devbox" set the login timeout to 5 seconds
    And the project on her Mac is still on the branch "main"
    And Codex on her Mac lists the thread "Fix the flaky login test" in the remote project on "devbox"

  Scenario Outline: Dana's phone, paired with her Mac, and the Mac's remote project
    Given Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    And Dana scans the pairing code with her phone
    When Dana looks at the remote projects of her Mac on her phone
    Then her phone lists <what>

    @legacy
    Examples: today's phone lists none of the Mac's remote projects (openai/codex#23527)
      | what               |
      | no remote projects |

    @fixed
    Examples: with the fix, the phone lists them
      | what                                                                                 |
      | "login-service on devbox, over SSH" under "Remote projects on Dana's MacBook Pro" |

  @fixed
  Scenario: An approval on the phone reaches devbox through the Mac
    Given Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    And Dana scans the pairing code with her phone
    When Dana asks Codex from her phone to "Fix the flaky login test" in the remote project "login-service"
    And Dana approves the command on her phone
    Then the project on "devbox" is on the branch "fix-flaky-login"
    And the project on her Mac is still on the branch "main"
    When Dana approves the file change on her phone
    Then Codex on "devbox" set the login timeout to 5 seconds
    And her phone shows Codex's answer "I raised the login timeout in src/login.py from 1 to 5 seconds."

  @fixed
  Scenario: The connection to devbox drops while Codex waits for Dana; nothing she approved is lost or done twice
    Given Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    And Dana scans the pairing code with her phone
    When Dana asks Codex from her phone to "Fix the flaky login test" in the remote project "login-service"
    And Dana approves the command on her phone
    And the connection between her Mac and "devbox" drops while Codex waits for Dana
    And Dana approves the file change on her phone while her Mac cannot reach "devbox"
    And the connection between her Mac and "devbox" comes back
    Then Codex on "devbox" made the branch "fix-flaky-login" once
    And Codex on "devbox" set the login timeout to 5 seconds
    And her phone shows Codex's answer "I raised the login timeout in src/login.py from 1 to 5 seconds."
