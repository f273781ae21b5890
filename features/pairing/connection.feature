@pairing @refusals
Feature: The phone says when it cannot reach Codex, or cannot understand it
  Pairing goes through the Codex connection service on the internet. When Dana's phone cannot reach it, or receives
  something it cannot read, the phone says so in its own words instead of a generic failure.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: A phone without internet says so, and pairs once it is back online

    Scenario: Dana's phone is offline when she scans the code
      Given Dana's phone loses its internet connection
      When Dana scans the pairing code with her phone
      Then her phone shows "Can't reach Codex" and says "Can't reach the Codex connection service. Check your phone's internet connection and try again."
      And her Mac's pairing code is still unclaimed
      When Dana's phone is back online
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

  Rule: A message the phone cannot read ends setup with its own message

    Scenario: The connection service cuts a message to Dana's phone short
      Given the Codex connection service cuts its next message to a phone short
      When Dana scans the pairing code with her phone
      Then her phone shows "Connection problem" and says "Your phone and Mac couldn't understand each other. Update Codex on your Mac and the ChatGPT app, then try again."
