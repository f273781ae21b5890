@login
Feature: Codex sessions that share one ChatGPT sign-in
  Each Codex process reads the sign-in (auth.json) when it starts and keeps it in memory. When its access token
  (ten days) has expired by its computer's clock, it refreshes it, and a refresh token can be used only once. Two
  Codex processes on one Mac share the file: the second to refresh reads it again under a lock first and takes the
  first one's new sign-in (codex 0.169.0 does this). A copy of the sign-in on another computer (auth.json copied to a
  dev server, or into a CI secret) holds the same refresh token with no file to share, and whoever refreshes second
  loses. A new sign-in revokes the one it replaces, with every copy of it.

  With the real daemon behind the Mac, the desktop app refreshes the Mac's sign-in and the daemon takes it from
  auth.json when the ChatGPT service refuses its old one; the daemon never refreshes on its own here, because it
  decides by the machine's clock, which time passing in a scenario does not move.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac

  Rule: Codex processes on one Mac share one sign-in

    @daemon
    Scenario: The desktop app refreshed the sign-in first, and Codex in a terminal on the same Mac carries on
      Given Dana has Codex open in a terminal on her Mac
      When 11 days pass
      And Dana shows the pairing code on her Mac
      And Dana asks Codex something in the terminal on her Mac
      Then the terminal on Dana's Mac says "Codex answered."
      When Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

  Rule: A copy of the sign-in on another computer races the original

    @daemon
    Scenario Outline: Her Mac refreshed the shared sign-in first, so the copy on her dev server cannot
      openai/codex#6498, openai/codex#9634, openai/codex#24365, openai/codex#13238: two sessions hold one refresh
      token; the second to refresh is refused, because the first already used it.
      Given Dana copied her Codex sign-in from her Mac to her dev server
      And Dana has Codex open in a terminal on her dev server
      When 11 days pass
      And Dana shows the pairing code on her Mac
      And Dana asks Codex something in the terminal on her dev server
      Then the terminal on Dana's dev server says "<message>"
      When Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

      @legacy
      Examples: today's CLI, as in the reports
        | message                                                                                                          |
        | Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again. |

      @fixed
      Examples: with the fix, the CLI names the cause and the action
        | message                                                                                                                                                                                         |
        | Another computer refreshed this sign-in first: it uses a copy of it (a copied auth.json), and a sign-in can be refreshed only once. Run `codex login` on this computer to give it a sign-in of its own. |

    @daemon
    Scenario Outline: Dana signs in to Codex on her Mac again, which signs out the copy on her dev server
      openai/codex#13118: a newer sign-in revoked the tokens the session still held. Right away its access token is
      refused; once that has expired, so is its refresh token.
      Given Dana copied her Codex sign-in from her Mac to her dev server
      And Dana has Codex open in a terminal on her dev server
      When Dana signs in to Codex on her Mac again
      And <later>
      And Dana asks Codex something in the terminal on her dev server
      Then the terminal on Dana's dev server says "<message>"

      @legacy
      Examples: today's CLI, as in the report
        | later           | message                                                                                                          |
        | a minute passes | unexpected status 401 Unauthorized: The access token was rejected (revoked)., auth error code: token_revoked    |
        | 11 days pass    | Your access token could not be refreshed because your refresh token was revoked. Please log out and sign in again. |

      @fixed
      Examples: with the fix, the CLI names the cause and the action
        | later           | message                                                                                                                                                                  |
        | a minute passes | This sign-in was replaced by a newer sign-in on another computer, which signed out every copy of it. Run `codex login` on this computer to give it a sign-in of its own. |
        | 11 days pass    | This sign-in was replaced by a newer sign-in on another computer, which signed out every copy of it. Run `codex login` on this computer to give it a sign-in of its own. |

    @daemon
    Scenario: On the same Mac, a new sign-in does not sign out Codex in a terminal: it takes the new one
      Given Dana has Codex open in a terminal on her Mac
      When Dana signs in to Codex on her Mac again
      And Dana asks Codex something in the terminal on her Mac
      Then the terminal on Dana's Mac says "Codex answered."

  Rule: A sign-in nobody refreshed for sixty days is over

    Scenario: Two months later, the copy on her dev server has to sign in again
      Given Dana copied her Codex sign-in from her Mac to her dev server
      And Dana has Codex open in a terminal on her dev server
      When 61 days pass
      And Dana asks Codex something in the terminal on her dev server
      Then the terminal on Dana's dev server says "Your access token could not be refreshed because your refresh token has expired. Please log out and sign in again."
