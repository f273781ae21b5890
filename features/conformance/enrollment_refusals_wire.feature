@enrollment @conformance
Feature: The status and the refusal body behind each enrollment refusal
  The wire-level half of features/enrollment and features/mfa: the status the daemon reports over JSON-RPC
  (`remoteControl/status/read`) and the body the backend refuses with, today and with the typed-error fix.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication and the team workspace "Acme"

  Rule: A workspace whose admin turned remote control off

    Scenario Outline: The workspace's policy refuses the Mac
      Given the "Acme" workspace does not allow remote control
      And Dana is signed in to Codex on her Mac with multi-factor authentication, in the "Acme" workspace
      When Dana turns on "Allow other devices to connect" on her Mac
      Then Codex on her Mac reports the remote-control status "<status>"
      And the backend refused to enroll the Mac with HTTP 403 and the body '<body>'

      @fixed
      Examples: with the typed-error fix
        | status            | body                                                                                                                           |
        | blocked_by_policy | {"detail":"Remote control is disabled for this workspace","code":"blocked_by_policy","message":"Your workspace administrator has turned off remote control."} |

      @legacy
      Examples: today's backend and daemon
        | status  | body                                                   |
        | errored | {"detail":"Remote control is disabled for this workspace"} |

  Rule: An account in a region without remote control

    Scenario Outline: The account's region refuses the Mac
      Given Dana's account is in a region where remote control is not offered
      And Dana is signed in to Codex on her Mac with multi-factor authentication
      When Dana turns on "Allow other devices to connect" on her Mac
      Then Codex on her Mac reports the remote-control status "<status>"
      And the backend refused to enroll the Mac with HTTP 403 and the body '<body>'

      @fixed
      Examples: with the typed-error fix
        | status                     | body                                                                                                                          |
        | blocked_region_unavailable | {"detail":"Remote control is not available in your region","code":"region_unavailable","message":"Remote control is not available in your region yet."} |

      @legacy
      Examples: today's backend and daemon
        | status  | body                                                  |
        | errored | {"detail":"Remote control is not available in your region"} |
