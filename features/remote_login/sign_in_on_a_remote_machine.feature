@remote_login @netns
Feature: Signing in to Codex on a remote machine
  Dana works on a remote machine over SSH and runs `codex login` there. The login waits for the browser on
  http://localhost:1455 of the remote machine, but her browser runs on her laptop, where that address is the laptop
  itself. The laptop and the remote machine are separate machines on one network; the sign-in service is on a third.
  An SSH tunnel (`ssh -L`) from the laptop carries the port across, as the Codex documentation tells users to do.

  Background:
    Given Dana has a ChatGPT account and works on a remote machine over SSH from her laptop
    And Dana runs "codex login" on the remote machine

  Rule: Without a tunnel, the browser on the laptop cannot reach the login on the remote machine

    Scenario: The browser is sent back to the laptop itself and the connection is refused
      When Dana signs in with the browser on her laptop
      Then her browser cannot open "http://127.0.0.1:1455/auth/callback": "Connection refused"
      And the login on the remote machine is still waiting for the browser

  Rule: An SSH tunnel from the laptop carries the login port to the remote machine

    Scenario: Forwarding port 1455 completes the login
      Given Dana forwards port 1455 to the remote machine with "ssh -L 1455:localhost:1455"
      When Dana signs in with the browser on her laptop
      Then her browser shows "Signed in to Codex"
      And the remote terminal says "Successfully logged in"
      And the remote machine has saved Dana's sign-in

    Scenario: The tunnel closes between the sign-in and the redirect, and reopening it finishes the login
      Given Dana forwards port 1455 to the remote machine with "ssh -L 1455:localhost:1455"
      And Dana has signed in with the browser on her laptop, which is about to return to the login
      When the SSH tunnel closes
      And her browser follows the redirect
      Then her browser cannot open "http://127.0.0.1:1455/auth/callback": "Connection refused"
      And the login on the remote machine is still waiting for the browser
      When Dana forwards port 1455 to the remote machine with "ssh -L 1455:localhost:1455" again
      And Dana reloads the page in her browser
      Then her browser shows "Signed in to Codex"
      And the remote terminal says "Successfully logged in"

  Rule: When another program holds port 1455 on the laptop, the tunnel must use another port

    Scenario Outline: The tunnel cannot listen on a port another program holds (<occupant>)
      Given another program on Dana's laptop listens on port 1455 on <occupant>
      When Dana forwards port 1455 to the remote machine with "<command>"
      Then ssh says "bind [127.0.0.1]:1455: Address already in use"
      And ssh says "Could not request local forwarding."
      And the tunnel is not open

      Examples:
        | occupant          | command                              |
        | IPv4 and IPv6     | ssh -L 1455:localhost:1455           |
        | 127.0.0.1 only    | ssh -L 127.0.0.1:1455:localhost:1455 |

    Scenario: With only IPv4 taken, the tunnel opens on IPv6 alone and the browser reaches the other program
      Given another program on Dana's laptop listens on port 1455 on 127.0.0.1 only
      When Dana forwards port 1455 to the remote machine with "ssh -L 1455:localhost:1455"
      Then ssh says "bind [127.0.0.1]:1455: Address already in use"
      And the tunnel is open
      When Dana signs in with the browser on her laptop
      Then her browser shows the other program's "Error response" page instead of the sign-in result
      And the login on the remote machine is still waiting for the browser

    Scenario: Forwarding port 2455 and changing the port in the browser's address bar completes the login
      Given another program on Dana's laptop listens on port 1455 on IPv4 and IPv6
      And Dana forwards port 2455 to the remote machine with "ssh -L 2455:localhost:1455"
      When Dana signs in with the browser on her laptop
      Then her browser shows the other program's "Error response" page instead of the sign-in result
      When Dana changes the port in her browser's address bar to 2455
      Then her browser shows the other program's "Error response" page instead of the sign-in result
      And the login on the remote machine is still waiting for the browser
      When Dana changes the port in her browser's address bar to 2455
      Then her browser shows "Signed in to Codex"
      And the remote terminal says "Successfully logged in"
      And the remote machine has saved Dana's sign-in
