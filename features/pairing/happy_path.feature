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
      Then Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."
      And her Mac has a remote-control enrollment
      And pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: ok
        3 ok · 0 warn · 0 fail
        """

    Scenario: Dana pairs her phone and sees her Mac's threads
      When Dana shows the pairing code on her Mac
      Then her Mac shows a pairing code to scan
      When Dana scans the pairing code with her phone
      Then her phone is connected to her Mac
      And her phone showed these screens, in order:
        | Connect to your Mac             | Scan the QR code shown in Codex on your Mac.               |
        | Connect to Dana's MacBook Pro?  | Sign in with the ChatGPT account you use on this Mac.      |
        | Sign in to ChatGPT              | Finish signing in in the browser.                          |
        | Setting up a secure connection  | Keep Codex open on Dana's MacBook Pro.                     |
        | Connected to Dana's MacBook Pro | You can now follow and approve Codex work from this phone. |
        | Dana's MacBook Pro              | 3 threads                                                  |

  @approvals @daemon
  Rule: Dana decides on Codex's requests from her phone
    Codex (the mock daemon or the real one, `--daemon`) plays the backend model's scripted turn: it asks to create
    a branch for the fix, then to change the login timeout. What it did is read from the project on the Mac.

    Background:
      Given Dana shows the pairing code on her Mac
      When Dana scans the pairing code with her phone
      And Dana asks Codex from her phone to "Fix the flaky login test"

    Scenario Outline: Dana decides on a command from her phone: she <decides>
      Then her phone asks Dana "Approve command?" with "Codex wants to run `git switch -c fix-flaky-login` in {project folder}."
      When Dana <decides> on her phone
      Then her phone shows "Decision sent" and says "<phone says>"
      And Codex on her Mac <did with the command>

      Examples:
        | decides                                 | phone says                                              | did with the command         |
        | approves it                             | You approved this request.                              | ran the command she approved |
        | approves it for the rest of the session | You approved this request for the rest of the session. | ran the command she approved |
        | declines it                             | You declined this request.                              | has not run the command      |
        | cancels it                              | You cancelled this turn.                                | has not run the command      |

    Scenario Outline: Dana decides on a file change from her phone: she <decides>
      Then her phone asks Dana "Approve command?" with "Codex wants to run `git switch -c fix-flaky-login` in {project folder}."
      When Dana approves it on her phone
      Then her phone asks Dana "Approve file change?" with "Codex wants to change {project folder}/src/login.py."
      When Dana <decides> on her phone
      Then her phone shows "Decision sent" and says "<phone says>"
      And Codex on her Mac <did with the file>

      Examples:
        | decides     | phone says                 | did with the file                      |
        | approves it | You approved this request. | changed "src/login.py" as she approved |
        | declines it | You declined this request. | left "src/login.py" as it was          |
