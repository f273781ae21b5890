@mfa
Feature: Remote control needs a sign-in with multi-factor authentication
  The backend enrolls a Mac for remote control only while Codex is signed in with multi-factor authentication. A
  browser that remembers Dana's device skips the authenticator step, so a sign-in from it carries no multi-factor
  authentication even though her account has it. When the backend refuses, every surface must say so and say what
  to do, instead of "Setup failed".

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: A sign-in that skipped the authenticator cannot keep the Mac enrolled

    Background:
      Given Dana quits the browser on her Mac
      When Dana signs in to Codex on her Mac again

    Scenario Outline: The Mac loses its enrollment and says so
      Then the sign-in on her Mac did not ask for her authenticator code
      And her Mac has no remote-control enrollment
      And Settings › Connections on her Mac says "<Mac says>"

      @fixed
      Examples: with the typed-error fix
        | Mac says                                                                                                                                          |
        | Multi-factor authentication is required before this Mac can be controlled from iPhone. Open account security settings, enable MFA, then sign in to Codex again. |

      @legacy
      Examples: today's product
        | Mac says                   |
        | Remote control is errored. |

    @fixed
    Scenario: The Mac explains the fix instead of showing a pairing code that cannot work
      When Dana shows a new pairing code on her Mac
      Then her Mac shows "Multi-factor authentication is required before this Mac can be controlled from iPhone. Open account security settings, enable MFA, then sign in to Codex again." instead of a pairing code

    @fixed
    Scenario: With the fix, pairsim doctor names the cause and the action
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: blocked
        Reason: Multi-factor authentication required
        Action: Enable MFA and re-authenticate Codex desktop.
        2 ok · 0 warn · 1 fail
        """

    @legacy
    Scenario: Today's doctor has no remote-control check and says all is well (openai/codex#24328)
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        2 ok · 0 warn · 0 fail
        """

    Scenario Outline: What the phone says when it scans the code
      When Dana scans the pairing code with her phone
      Then her phone shows "<title>" and says "<message>"

      @fixed
      Examples: with the typed-error fix
        | title                               | message                                                                                                                                                    |
        | Turn on multi-factor authentication | Your Mac needs multi-factor authentication enabled before iPhone setup can finish. Enable MFA on your ChatGPT account, sign in to Codex on your Mac again, then retry. |

      @legacy
      Examples: today's phone
        | title        | message                                                |
        | Setup failed | Setup failed. Couldn't finish secure setup. Try again. |

  Rule: Forgetting the remembered browsers brings the authenticator back

    Scenario: Dana signs out of her remembered devices, and her Mac signs in with MFA again
      Given Dana quits the browser on her Mac
      When Dana signs out of every remembered device in her account's security settings
      And Dana signs in to Codex on her Mac again
      Then the sign-in on her Mac asked for her authenticator code
      And Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."

  Rule: The generic message is only for a cause the phone does not know

    Scenario: An unknown error still gets the generic message
      Given the backend fails the next pairing claim with an error no phone knows
      When Dana scans the pairing code with her phone
      Then her phone shows "Setup failed" and says "Setup failed. Couldn't finish secure setup. Try again."
