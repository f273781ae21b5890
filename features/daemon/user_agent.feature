@daemon
Feature: The user agent in the daemon's initialize answer
  `initialize` answers with a user agent of the form `<first client>/<version> (<OS> <OS version>; <arch>)
  <terminal> (<client>; <client version>)`. The first part names the first client that ever initialized on the
  daemon's process; the terminal comes from the environment the daemon was started in.
  Reference: codex app-server 0.169.0, observed behaviour §3.7. In the expected texts {version} stands for the
  version of the daemon under test (the real binary's, or the one the mock imitates), {os} for this machine's OS
  name and version (e.g. `Debian 12.0.0`) and {arch} for its architecture (e.g. `x86_64`).

  Scenario: The first client to initialize names the user agent for every later client
    Given a fresh daemon on loopback with no auth, started with TERM=xterm
    And a client connected to the daemon
    When the client initializes as "probe_codex_ws" version "0.0.1" with id 1
    And a second client connects and initializes as "t" version "1" with id 1
    Then the second client's user agent reads "probe_codex_ws/{version} ({os}; {arch}) xterm (t; 1)"

  Scenario Outline: A daemon started with <environment> names the terminal "<terminal>"
    Given a fresh daemon on loopback with no auth, started with <environment>
    And a client connected to the daemon
    When the client initializes as "probe" version "1" with id 1
    Then the user agent reads "probe/{version} ({os}; {arch}) <terminal> (probe; 1)"

    Examples:
      | environment                                  | terminal        |
      | TERM=xterm                                   | xterm           |
      | TERM=screen-256color                         | screen-256color |
      | no terminal variables                        | unknown         |
      | TERM_PROGRAM=vscode TERM_PROGRAM_VERSION=1.2 | vscode/1.2      |
      | TERM=xterm TERM_PROGRAM=iTerm.app            | iTerm.app       |
