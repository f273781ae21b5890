@daemon @remote_control
Feature: The Mac's clock is ahead of ChatGPT's by more than a server token's hour, so the Mac gets no pairing code
  Codex on the Mac asks ChatGPT for a pairing code with its server token, and judges that token by the Mac's own
  clock: it renews the token first when it has 30 seconds or less left, then refuses to use one that has already
  expired. When the Mac's clock is ahead of ChatGPT's by more than the token's lifetime (an hour), even the token
  ChatGPT has just issued has expired by the Mac's clock, and every renewal brings another such token: the daemon
  answers "Pair phone" with an error while Settings › Connections still says the Mac is ready. The codex source
  words it `remote control pairing is unavailable because the server token expired`, and today's desktop passes
  those words on. With the fix, the desktop compares ChatGPT's time (the `Date` of its answer) with the Mac's clock
  and says which clock to set.

  pairsim sets the ChatGPT service's clock two hours back rather than the Mac's two hours forward: to the Mac it is
  the same disagreement, and it reaches the real daemon, which keeps the machine's clock (`--daemon mock|codex`).
  Codex 0.169.0 has no words for an expired token: it says `remote control pairing is unavailable until enrollment
  completes`, so today's row differs there (a known difference); the fix's rows hold on both daemons.
  `features/pairing/time_passes.feature` has the Mac's own clock two hours fast, with the mock daemon.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And the ChatGPT service's clock is 2 hours slow
    And Dana turns on "Allow other devices to connect" on her Mac

  @xfail_on_codex:real_daemon_says_enrollment_incomplete_for_an_expired_token
  Scenario Outline: Dana chooses Pair phone while her Mac's clock is two hours ahead of ChatGPT's
    When Dana shows the pairing code on her Mac
    Then her Mac shows "<Mac says>" instead of a pairing code
    And the backend renewed her Mac's server token
    And Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."

    @legacy
    Examples: today's Mac passes on what the daemon said
      | Mac says                                                                                          |
      | Pairing code unavailable: remote control pairing is unavailable because the server token expired. |

    @fixed
    Examples: with the fix, the Mac says which clocks disagree, by how much, and what to do
      | Mac says                                                                                                                                                                                                                                                                 |
      | Couldn't get a pairing code because this Mac's clock is 2 hours ahead of ChatGPT's: by this Mac's clock, the permission ChatGPT gives it to pair has already expired. Turn on Set time and date automatically in System Settings › General › Date & Time, then choose Pair phone again. |

  Scenario: Once the clocks agree, Dana shows a new pairing code and pairs
    Given Dana shows the pairing code on her Mac
    When the ChatGPT service's clock is right again
    And Dana shows a new pairing code on her Mac
    And Dana scans the pairing code with her phone
    Then her phone is connected to her Mac
