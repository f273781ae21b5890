@pairing @refusals
Feature: The phone says why signing in to ChatGPT did not finish
  To pair, Dana signs in to ChatGPT in her phone's browser with her password and her authenticator code. When the
  sign-in does not finish, her phone says why and what to do, and her Mac's code stays unused.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: Only a finished sign-in of the Mac's owner can claim the code

    Scenario Outline: Dana's sign-in on her phone does not finish: <title>
      When Dana scans the pairing code with her phone and <what goes wrong>
      Then her phone shows "<title>" and says "<message>"
      And her Mac's pairing code is still unclaimed

      Examples:
        | what goes wrong                             | title               | message                                                                            |
        | mistypes the password                       | Sign-in failed      | Your email or password wasn't accepted. Check them and sign in again.              |
        | cancels the sign-in                         | Sign-in cancelled   | Sign-in was cancelled, so your phone wasn't connected to your Mac.                 |
        | types a wrong authenticator code five times | Verification failed | Too many verification codes weren't accepted. Wait 15 minutes, then sign in again. |

  Rule: After five wrong authenticator codes, signing in waits 15 minutes, as the phone says

    Scenario: Dana waits 15 minutes after five wrong codes, then pairs
      When Dana scans the pairing code with her phone and types a wrong authenticator code five times
      And Dana scans the pairing code with her phone
      Then her phone shows "Verification failed" and says "Too many verification codes weren't accepted. Wait 15 minutes, then sign in again."
      When 15 minutes pass
      And Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac
