@pairing @refusals
Feature: A paired phone says when it can no longer use Dana's Mac
  Once Dana's phone is paired with her Mac, it keeps a sign-in to ChatGPT and a key that proves it is the phone that
  paired. When either stops working, the phone says why and what to do.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    And Dana scans the pairing code with her phone

  Rule: Changing the ChatGPT password signs the phone out; signing in again pairs it again

    Scenario: Dana changes her ChatGPT password while her phone is connected to her Mac
      When Dana changes her ChatGPT password
      Then her phone now shows "Signed out" and says "Your ChatGPT sign-in expired, for example after a password change. Sign in again to continue."
      When Dana signs in to Codex on her Mac again
      And Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

  Rule: Only the phone that paired can connect, because its key never leaves it

    Scenario: Dana sets up a new phone from her old phone's backup
      When Dana sets up a new phone from her phone's backup and opens the ChatGPT app on it
      Then the phone shows "Couldn't verify this phone" and says "This phone couldn't prove it is the device that was paired. Remove it in Codex on your Mac and pair again."
