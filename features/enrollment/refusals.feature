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
      Then Codex on her Mac reports the remote-control status "<Mac status>"
      And her Mac has no remote-control enrollment

      @fixed
      Examples: with the typed-error fix
        | Mac status        |
        | blocked_by_policy |

      @legacy
      Examples: today's behaviour
        | Mac status |
        | errored    |

    @fixed
    Scenario: The Mac and doctor name the workspace policy and what to do
      Then Settings › Connections on her Mac explains how to fix "blocked by policy"
      And pairsim doctor says the remote-control enrollment is blocked by "blocked by policy"

  Rule: Remote control is not offered in every region

    Background:
      Given Dana's account is in a region where remote control is not offered
      And Dana is signed in to Codex on her Mac with multi-factor authentication
      When Dana turns on "Allow other devices to connect" on her Mac

    Scenario Outline: The Mac is refused for the account's region
      Then Codex on her Mac reports the remote-control status "<Mac status>"
      And her Mac has no remote-control enrollment

      @fixed
      Examples: with the typed-error fix
        | Mac status                 |
        | blocked_region_unavailable |

      @legacy
      Examples: today's behaviour
        | Mac status |
        | errored    |

    @fixed
    Scenario: The Mac and doctor name the region and what to do
      Then Settings › Connections on her Mac explains how to fix "region unavailable"
      And pairsim doctor says the remote-control enrollment is blocked by "region unavailable"
