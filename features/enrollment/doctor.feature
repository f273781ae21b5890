@enrollment @fixed
Feature: pairsim doctor says what stands in the way of remote control, and what to do
  `pairsim doctor` reads Codex's folder on Dana's Mac and reports the state database, the ChatGPT sign-in and the
  remote-control enrollment. Each check that is not ok says why, and the action it names puts it right. (Today's
  `codex doctor` has no remote-control check at all: features/mfa shows that side.)

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication

  Rule: Connections are off until Dana turns them on

    Scenario: pairsim doctor on a Mac where connections are off
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: disabled
        Reason: Allow other devices to connect is off
        Action: Turn on Settings › Connections › Allow other devices to connect in Codex desktop.
        2 ok · 1 warn · 0 fail
        """
      When Dana turns on "Allow other devices to connect" on her Mac
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: ok
        3 ok · 0 warn · 0 fail
        """

  Rule: While the ChatGPT service has not answered, the Mac is not enrolled yet

    Scenario: pairsim doctor while the ChatGPT service is slow to enroll the Mac
      Given the ChatGPT service is slow to answer the Mac's enrollment
      When Dana turns on "Allow other devices to connect" on her Mac
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: not enrolled yet
        Reason: Codex desktop has not finished enrolling this Mac
        Action: Keep Codex desktop open until it finishes connecting.
        2 ok · 1 warn · 0 fail
        """
      When the ChatGPT service answers the Mac's enrollment
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: ok
        3 ok · 0 warn · 0 fail
        """

  Rule: A failed enrollment says whether the service refused it or could not be reached

    Scenario: pairsim doctor after the ChatGPT service failed the enrollment with a server error
      Given the ChatGPT service fails the Mac's next enrollment with a server error
      When Dana turns on "Allow other devices to connect" on her Mac
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: errored
        Reason: The backend refused enrollment (HTTP 500)
        Action: Check the daemon log for the enrollment error, then turn Allow other devices to connect off and on.
        2 ok · 0 warn · 1 fail
        """
      When Dana turns off "Allow other devices to connect" on her Mac
      And Dana turns on "Allow other devices to connect" on her Mac
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: ok
        3 ok · 0 warn · 0 fail
        """

    Scenario: pairsim doctor on a Mac that has lost its internet connection
      Given Dana's Mac loses its internet connection
      When Dana turns on "Allow other devices to connect" on her Mac
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: errored
        Reason: The remote control service could not be reached
        Action: Check this Mac's internet connection.
        2 ok · 0 warn · 1 fail
        """
      When Dana's Mac is back online
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: ok
        3 ok · 0 warn · 0 fail
        """

  Rule: After a password change Codex is signed out until Dana signs in again

    Scenario: pairsim doctor after Dana changed her ChatGPT password
      Given Dana turns on "Allow other devices to connect" on her Mac
      When Dana changes her ChatGPT password
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: not signed in
        Reason: No ChatGPT tokens are stored
        Action: Sign in to Codex desktop.
        Remote control enrollment: blocked
        Reason: ChatGPT sign-in expired
        Action: Sign in to Codex desktop again.
        1 ok · 1 warn · 1 fail
        """
      When Dana signs in to Codex on her Mac again
      Then pairsim doctor says:
        """
        State database: ok
        ChatGPT sign-in: ok
        Remote control enrollment: ok
        3 ok · 0 warn · 0 fail
        """

  Rule: Pointed at a folder where Codex never ran, doctor says so

    Scenario: pairsim doctor is run on the wrong folder
      Then pairsim doctor, run on a folder where Codex has never run, says:
        """
        State database: missing
        Reason: Codex desktop has not stored any state in this folder
        Action: Start Codex desktop once, or pass the right --home.
        ChatGPT sign-in: not signed in
        Reason: No ChatGPT tokens are stored
        Action: Sign in to Codex desktop.
        Remote control enrollment: not enrolled yet
        Reason: Codex desktop has not finished enrolling this Mac
        Action: Keep Codex desktop open until it finishes connecting.
        0 ok · 2 warn · 1 fail
        """
