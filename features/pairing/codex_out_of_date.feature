@daemon @pairing
Feature: A phone pairing with a Mac whose Codex is older than remote control accepts
  openai/codex#22714. The ChatGPT service accepts Codex on a Mac for remote control from a minimum version on. A Mac
  running an older Codex still enrolls and shows its pairing code, but the phone that scans it is turned away. Today
  the phone says "Codex on this environment is out of date. Update to 0.129.0-alpha.6 or newer. Current version:
  0.128.0": it names neither the computer nor where to update. With the fix it says that Codex on the Mac is too old
  and what to install there. The versions are the scenario's: the real daemon (`--daemon codex`) reports its own
  version, so it runs only the rows where the Mac runs that version. There {codex version} stands for the version
  of Codex under test (the real daemon's, or the one the mock imitates) and {next version} for the release after it.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication

  @xfail_on_codex:real_daemon_runs_its_own_version
  Scenario Outline: Dana's Mac runs Codex <current>, older than the <minimum> ChatGPT accepts, as in the report
    Given the ChatGPT service accepts Codex on a Mac from version <minimum> on
    And Dana's Mac runs Codex <current>
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    When Dana scans the pairing code with her phone
    Then her phone says "<phone says>"

    @legacy
    Examples: today's phone, as in the report
      | minimum         | current | phone says                                                                                       |
      | 0.129.0-alpha.6 | 0.128.0 | Codex on this environment is out of date. Update to 0.129.0-alpha.6 or newer. Current version: 0.128.0 |

    @fixed
    Examples: with the fix, the phone says which computer to update, and to what
      | minimum         | current | phone says                                                                                                                                   |
      | 0.129.0-alpha.6 | 0.128.0 | Codex on your Mac is version 0.128.0, older than remote control accepts. Update Codex on your Mac to 0.129.0-alpha.6 or newer, then scan the code again. |

  Scenario Outline: Dana's Mac runs Codex <current>, the version the real daemon reports, and ChatGPT wants <minimum>
    Given the ChatGPT service accepts Codex on a Mac from version <minimum> on
    And Dana's Mac runs Codex <current>
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    When Dana scans the pairing code with her phone
    Then her phone says "<phone says>"

    @legacy
    Examples: today's phone
      | minimum        | current         | phone says                                                                                                   |
      | {next version} | {codex version} | Codex on this environment is out of date. Update to {next version} or newer. Current version: {codex version} |

    @fixed
    Examples: with the fix
      | minimum        | current         | phone says                                                                                                                                                 |
      | {next version} | {codex version} | Codex on your Mac is version {codex version}, older than remote control accepts. Update Codex on your Mac to {next version} or newer, then scan the code again. |

  Scenario: A Mac as new as the minimum pairs
    Given the ChatGPT service accepts Codex on a Mac from version {codex version} on
    And Dana's Mac runs Codex {codex version}
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    When Dana scans the pairing code with her phone
    Then her phone is connected to her Mac
