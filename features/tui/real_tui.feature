@daemon @tui
Feature: The real Codex TUI on the Mac's daemon
  The Codex TUI is a client of the daemon like the phone. Whatever daemon runs on Dana's Mac, the real TUI
  (codex 0.169.0, `codex --remote`) must get as far with it as with the real one.

  Background:
    Given Dana has a ChatGPT account

  Rule: Nobody is signed in to the daemon yet

    Scenario: The TUI offers to sign in
      When Dana opens the Codex TUI on her Mac
      Then the TUI offers to sign in with ChatGPT or another way

    Scenario: Dana signs in to the TUI with an API key
      When Dana opens the Codex TUI on her Mac
      And she signs in to the TUI with an API key
      Then the TUI shows its main screen
      And the TUI's status says the account is "API key configured"

  Rule: The Mac is signed in with ChatGPT

    Scenario: The TUI shows Dana's threads
      Given Dana is signed in to Codex on her Mac with ChatGPT
      And Dana has asked Codex on her Mac to "Explain the login timeout"
      When Dana opens the Codex TUI on her Mac
      And she opens the TUI's session list
      Then the TUI shows Dana's threads
