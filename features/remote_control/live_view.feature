@daemon @live_view
Feature: Following Codex from the phone while it works
  Besides approving, Dana watches a turn as it happens on her phone: the output of a command as it streams, the
  diff of a file change, the result of a test run, an image Codex made. She can send a follow-up that steers the
  turn while it runs, and when she comes back after losing her connection her phone shows the turn that finished
  meanwhile. Codex is the mock daemon or the real one (`--daemon`); what it says comes from the backend's scripted
  model, and what the phone shows comes from the daemon's own notifications.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    And Dana scans the pairing code with her phone

  Rule: Dana watches a turn as it happens

    Scenario: The phone shows a test run's output as it streams, and its result
      When Dana asks Codex from her phone to "Run the login tests"
      And Dana approves the command on her phone
      Then her phone showed the command's output as it arrived, ending with "FAILED (failures=1)"
      And her phone shows that the command failed
      And her phone shows Codex's answer "The login test fails: src/login.py waits 1 second, and the service can take 3."

    Scenario: The phone shows the diff of the file Codex wants to change, before she decides
      When Dana asks Codex from her phone to "Fix the flaky login test"
      And Dana approves the command on her phone
      Then her phone shows the diff of "src/login.py": "TIMEOUT = 1" becomes "TIMEOUT = 5"
      When Dana approves the file change on her phone
      Then Codex on her Mac set the login timeout to 5 seconds
      And her phone shows Codex's answer "I raised the login timeout in src/login.py from 1 to 5 seconds."

    Scenario: The phone shows an image Codex made
      When Dana asks Codex from her phone to "Draw the login flow"
      And Dana approves the command on her phone
      Then her phone shows the image Codex made, "docs/login-flow.png", as it is on her Mac
      And her phone shows Codex's answer "I drew the login flow in docs/login-flow.png."

    Scenario: A command she approved for the rest of the session runs again without asking
      When Dana asks Codex from her phone to "Run the login tests"
      And Dana approves the command for the rest of the session on her phone
      And Codex finishes the turn on Dana's phone
      And Dana asks Codex from her phone to "Run the login tests"
      Then Codex ran the command again without asking her phone

  Rule: A follow-up steers the turn that is running

    Scenario: A follow-up sent while Codex is thinking changes what it does in the same turn
      Given Codex takes its time to answer
      When Dana asks Codex from her phone to "Raise the login timeout"
      And while Codex is thinking, Dana sends "Make it 10 seconds" from her phone
      And Dana approves the file change on her phone
      Then her phone shows "Make it 10 seconds" as a follow-up in the same turn
      And her phone shows the diff of "src/login.py": "TIMEOUT = 1" becomes "TIMEOUT = 10"
      And her phone shows Codex's answer "I raised the login timeout in src/login.py from 1 to 10 seconds."
      And Codex on her Mac set the login timeout to 10 seconds

  Rule: A turn that finished while the phone was away is there when she comes back

    Scenario: Dana loses her connection while Codex works, and sees its answer when she is back
      Given Codex takes its time to answer
      When Dana asks Codex from her phone to "Explain the login timeout"
      And Dana's phone loses its internet connection while Codex is thinking
      And Codex on her Mac finishes the turn without Dana's phone
      And Dana's phone is back online
      And Dana opens the thread on her phone again
      Then her phone shows the turn completed
      And her phone shows Codex's answer "src/login.py waits TIMEOUT = 1 second for the service to answer; under load the service takes up to 3, which is why the login test is flaky."
