@enrollment
Feature: The Mac says why the backend will not enroll it
  Besides multi-factor authentication, a workspace's policy and the account's region can stop the backend from
  enrolling a Mac for remote control. With the fix, the Mac and pairsim doctor name the cause and what to do; today
  the Mac only says it is errored.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication and the team workspace "Acme"

  Rule: A workspace whose admin turned remote control off cannot enroll a Mac

    Background:
      Given the "Acme" workspace does not allow remote control
      And Dana is signed in to Codex on her Mac with multi-factor authentication, in the "Acme" workspace
      When Dana turns on "Allow other devices to connect" on her Mac

    Scenario Outline: The Mac is refused for the workspace's policy
      Then Settings › Connections on her Mac says "<Mac says>"
      And her Mac has no remote-control enrollment

      @fixed
      Examples: with the typed-error fix
        | Mac says                                                                                                 |
        | Your workspace admin doesn't allow remote control of this Mac. Ask your admin to allow remote control, then try again. |

      @legacy
      Examples: today's behaviour
        | Mac says                   |
        | Remote control is errored. |

    @fixed
    Scenario: pairsim doctor names the workspace policy and what to do
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: blocked
        Reason: Remote control is disabled for this workspace
        Action: Ask your workspace admin to allow remote control.
        2 ok · 0 warn · 1 fail
        """

  Rule: Remote control is not offered in every region

    Background:
      Given Dana's account is in a region where remote control is not offered
      And Dana is signed in to Codex on her Mac with multi-factor authentication
      When Dana turns on "Allow other devices to connect" on her Mac

    Scenario Outline: The Mac is refused for the account's region
      Then Settings › Connections on her Mac says "<Mac says>"
      And her Mac has no remote-control enrollment

      @fixed
      Examples: with the typed-error fix
        | Mac says                                                     |
        | Remote control isn't available in your account's region yet. |

      @legacy
      Examples: today's behaviour
        | Mac says                   |
        | Remote control is errored. |

    @fixed
    Scenario: pairsim doctor names the region and what to do
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: blocked
        Reason: Remote control is not available in this region
        Action: Use an account in a supported region.
        2 ok · 0 warn · 1 fail
        """
