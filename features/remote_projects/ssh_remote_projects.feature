@remote_projects @netns
Feature: Opening a project on a remote machine over SSH
  Dana works on a Linux machine she reaches as `devbox` from her Mac's ~/.ssh/config. Codex on her Mac lists the
  hosts of that file under Settings › Connections, looks for `codex` on the host through her login shell, starts
  the Codex app-server there with an SSH command and talks to it through a forwarded local port. devbox is a
  machine of its own (its own network, accounts, /home and /tmp) with a real sshd, Dana's account with the login
  shell and startup files each scenario names, and the real pinned codex installed the way npm installs it.

  Rule: A host whose codex is on PATH opens, and Codex on the Mac reads its threads

    Scenario: Dana opens the project on devbox
      Given Dana's devbox has codex installed in "~/.local/bin"
      When Codex on Dana's Mac lists her SSH connections
      Then the connections list "devbox"
      And Codex on the Mac logged "discovery_completed collectedAliasCount=1 collectedAliases=["devbox"] resolvedConnectionCount=1"
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Connected"
      And Codex on the Mac talks to the app-server on devbox through a forwarded local port
      And Codex on the Mac logged "ensure_remote_app_server_and_tunnel"
      And the app-server on devbox says its Codex home is "/home/dana/.codex"
      And the project on devbox lists 0 threads
      And the app-server's log on devbox says "listening on: ws://127.0.0.1:9234"

    Scenario: Dana runs a turn in the project on devbox, with the model the ChatGPT service runs
      Given Dana's devbox has codex installed in "~/.local/bin"
      And codex on devbox is signed in to Dana's ChatGPT account
      And Dana connected to "devbox" and started a thread there
      When Dana asks Codex on devbox "Explain the login timeout"
      Then Codex on devbox answers "src/login.py waits TIMEOUT = 1 second for the service to answer; under load the service takes up to 3, which is why the login test is flaky."
      And the project on devbox lists 1 threads

    Scenario: Codex on devbox asks Dana's Mac before it runs a command or changes a file in her project there
      Given Dana's devbox has codex installed in "~/.local/bin"
      And codex on devbox is signed in to Dana's ChatGPT account
      And Dana connected to "devbox" and started a thread in her project there
      When Dana asks Codex on devbox "Fix the flaky login test" and it starts working
      Then Codex on devbox asks Dana's Mac to approve the command "git switch -c fix-flaky-login"
      When Dana approves it on her Mac
      Then Codex on devbox asks Dana's Mac to approve a change to a file
      When Dana approves it on her Mac
      And Codex on devbox finishes the turn
      Then Codex on devbox answers "I raised the login timeout in src/login.py from 1 to 5 seconds."
      And Dana's project on devbox is on the branch "fix-flaky-login"
      And "src/login.py" in Dana's project on devbox says "TIMEOUT = 5  # seconds to wait for the service to answer"

  Rule: codex in a folder that only .zshrc puts on PATH (openai/codex#19198)

    Background:
      Given Dana's login shell on devbox is zsh
      And Dana's devbox has codex installed in "~/bin"

    @legacy
    Scenario: Today's desktop asks a login shell that skips .zshrc, and finds no codex
      Given Dana's .zshrc on devbox adds "~/bin" to PATH
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with "No `codex` found in PATH. Please install Codex on the remote machine."

    @fixed
    Scenario: The fixed desktop asks an interactive login shell, which reads .zshrc
      Given Dana's .zshrc on devbox adds "~/bin" to PATH
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Connected"

    @fixed
    Scenario: With no shell setup at all, CODEX_INSTALL_DIR tells the fixed desktop where codex is
      Given Codex on Dana's Mac runs with CODEX_INSTALL_DIR set to "~/bin"
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Connected"

  Rule: The fixed desktop says what to do when codex is not on the host at all

    @fixed
    Scenario: codex is not installed on devbox
      Given Dana's devbox has no codex installed
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with "Codex isn't installed on devbox, or your login shell (bash) doesn't put it on PATH. Install Codex on devbox, or set CODEX_INSTALL_DIR to the folder that holds codex, then reconnect."

  Rule: Node from nvm, loaded only by interactive shells: the probe passes, the start fails (openai/codex#19744, openai/codex#10450)

    Background:
      Given devbox has no Node installed for the whole system
      And Dana installed codex with Node from nvm, which her .bashrc loads only for interactive shells
      And Dana linked codex into "~/.local/bin"

    @legacy
    Scenario: Today's desktop sees only the socket close; the cause is in a log on devbox
      When Dana connects to "devbox"
      Then Codex on the Mac found codex on devbox and started the app-server there
      And the "devbox" connection shows "Error" with "read ECONNRESET"
      And the app-server's log on devbox says "/usr/bin/env: 'node': No such file or directory"

    @fixed
    Scenario: The fixed desktop reads the log on devbox and names the cause
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with "Codex on devbox stopped as it started: /usr/bin/env: 'node': No such file or directory. Codex runs in a non-interactive shell there, which doesn't read your interactive shell setup; make node and codex available to it, then reconnect."

  Rule: The tunnel's local end takes the first free port from 9234 on the Mac

    Scenario: Another program on the Mac holds port 9234, and the tunnel takes 9235
      Given Dana's devbox has codex installed in "~/.local/bin"
      And another program on Dana's Mac listens on port 9234
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Connected"
      And Codex on the Mac logged "selected app-server transport websocketUrl=ws://127.0.0.1:9235/rpc"
      And Codex on the Mac logged "ensure_remote_app_server_and_tunnel localPort=9235 remotePort=9234"

  Rule: A dropped connection: Codex on the Mac connects again, and what Dana started on devbox is still there

    Background:
      Given Dana's devbox has codex installed in "~/.local/bin"

    Scenario Outline: The SSH connection drops while a thread is open, and Codex on the Mac reconnects
      Given Dana connected to "devbox" and started a thread there
      When the SSH connection from Dana's Mac to devbox drops
      Then Codex on the Mac saw the connection to devbox close with code 1006
      When Codex on the Mac reconnects to "devbox"
      Then the "devbox" connection shows "Connected"
      And the thread Dana started on devbox is still there
      And devbox runs 1 Codex app-server
      And the app-server's log on devbox says "<last words in its log>"

      @legacy
      Examples: today's desktop starts a second app-server, which cannot listen, and its failure replaces the log
        | last words in its log               |
        | Error: Address in use (os error 98) |

      @fixed
      Examples: the fixed desktop finds the app-server ready through the tunnel and starts none
        | last words in its log               |
        | listening on: ws://127.0.0.1:9234   |

  Rule: A csh or tcsh login shell reads the desktop's commands as its own (openai/codex#19302)

    @legacy
    Scenario Outline: Today's desktop sends a Bourne-shell probe that <shell> cannot run
      Given Dana's login shell on devbox is <shell>
      And Dana's devbox has codex installed in "~/.local/bin"
      And Dana's .cshrc on devbox adds "~/.local/bin" to PATH
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with what the login shell said:
        """
        Bad : modifier in $ '-'.
        SHELL=/bin/sh: Command not found.
        fi: Command not found.
        Unknown option: `-l'
        Usage: <shell> [ -bcdefilmnqstvVxX ] [ argument ... ].
        p=: Command not found.
        Unmatched '''.
        Unmatched '''.
        """

      Examples:
        | shell |
        | tcsh  |
        | csh   |

    @fixed
    Scenario Outline: The fixed desktop hands its probe to /bin/sh on one line and asks <shell> without -l
      Given Dana's login shell on devbox is <shell>
      And Dana's devbox has codex installed in "~/.local/bin"
      And Dana's .cshrc on devbox adds "~/.local/bin" to PATH
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Connected"

      Examples:
        | shell |
        | tcsh  |
        | csh   |

  Rule: A RemoteCommand in the host's SSH config (openai/codex#18322)

    Background:
      Given Dana's devbox has codex installed in "~/.local/bin"
      And devbox's entry in Dana's ~/.ssh/config says "RemoteCommand echo test"

    @legacy
    Scenario: ssh refuses the desktop's command beside the configured one
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with what ssh said: "Cannot execute command-line and remote command."

    @fixed
    Scenario: The fixed desktop sets RemoteCommand to none for its own commands
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Connected"

  Rule: Discovery reads Include as OpenSSH does (openai/codex#36242)

    Background:
      Given Dana's devbox has codex installed in "~/.local/bin"
      And Dana's .bashrc on devbox puts ~/.local/bin on PATH for every shell
      And Dana's ~/.ssh/config starts with "Include ~/.orbstack/ssh/config"

    @legacy
    Scenario: An Include of a file that is gone fails today's discovery, while ssh itself works
      When Codex on Dana's Mac lists her SSH connections
      Then Settings › Connections says "Failed to discover remote SSH connections" and lists no host
      And in Terminal on Dana's Mac, "ssh devbox 'codex --version'" prints "codex-cli {codex version}"

    @fixed
    Scenario: The fixed discovery skips a missing Include, as ssh does, and follows the ones that exist
      Given Dana's ~/.ssh/config starts with "Include config.d/*"
      And Dana's Mac has "~/.ssh/config.d/work" with a host "buildbox"
      When Codex on Dana's Mac lists her SSH connections
      Then the connections list "devbox"
      And the connections list "buildbox"
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Connected"

  Rule: SSH's own refusals: today's desktop shows ssh's last line, the fixed one says what happened and what to do

    Background:
      Given Dana's devbox has codex installed in "~/.local/bin"

    @legacy
    Scenario Outline: <situation>: the desktop shows ssh's last line
      Given <situation>
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with what ssh said: "<ssh says>"
      And ssh's whole answer contains "<ssh also said>"

      Examples:
        | situation                                                 | ssh says                                       | ssh also said                                          |
        | devbox's host key is not in Dana's known_hosts            | Host key verification failed.                  | Host key verification failed.                          |
        | devbox's host key has changed since Dana last connected   | Host key verification failed.                  | WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!       |
        | devbox does not accept Dana's SSH key                     | dana@10.14.55.3: Permission denied (publickey). | Permission denied (publickey)                          |

    @fixed
    Scenario: devbox's host key is not known yet
      Given devbox's host key is not in Dana's known_hosts
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with "devbox isn't a known host yet. Connect once with ssh devbox in Terminal, check and accept its host key, then reconnect."

    @fixed
    Scenario: devbox's host key changed
      Given devbox's host key has changed since Dana last connected
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with "The host key of devbox has changed since you last connected. If you didn't expect this, someone may be intercepting the connection: check with its administrator before you remove the old key with ssh-keygen -R and reconnect."

    @fixed
    Scenario: devbox refuses Dana's key
      Given devbox does not accept Dana's SSH key
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with "devbox refused your SSH key for dana. Add your public key to authorized_keys for dana on devbox, or set the IdentityFile for devbox, then reconnect."

  Rule: The app-server's port on devbox is taken by another program

    Background:
      Given Dana's devbox has codex installed in "~/.local/bin"
      And another program on devbox listens on port 9234

    @legacy
    Scenario: Today's desktop reaches the other program through its tunnel
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with what the socket said: "Unexpected server response: 404"
      And the app-server's log on devbox says "Error: Address in use (os error 98)"

    @fixed
    Scenario: The fixed desktop reads why the app-server stopped
      When Dana connects to "devbox"
      Then the "devbox" connection shows "Error" with "Codex on devbox couldn't listen on port 9234: another program already uses it. Stop that program or choose another remote port for devbox, then reconnect."
