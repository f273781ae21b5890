@pairing
Feature: Time passes while Dana pairs her phone, and clocks are not always right
  Pairing codes, sign-in pages, the Mac's server token and remembered browsers expire the way they do in life:
  nobody changes when they expire, the clock moves on. The ChatGPT service keeps the time; Dana's phone and her Mac
  each read their own clock, and the codes of her authenticator app are those of her phone's clock. A pairing code
  lives ten minutes, a sign-in page thirty, the Mac's server token an hour, and a browser remembered as Dana's
  device thirty days.

  With the real daemon behind the Mac, time passes for the ChatGPT service, the phone and the desktop app; the
  daemon itself keeps the machine's clock, so a Mac whose clock is off needs the mock daemon.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: A pairing code lives ten minutes from when the Mac shows it

    @daemon
    Scenario: Dana scans the code 9 minutes after her Mac showed it, and pairs
      Given 9 minutes pass
      When Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

    @daemon
    Scenario Outline: The code's lifetime passes while Dana reads it
      Nothing expires the code but the clock: ten and a half minutes after the Mac showed it, it is no longer good.
      Given 10 minutes and 30 seconds pass
      When Dana scans the pairing code with her phone
      Then her phone shows "<title>" and says "<message>"
      And her Mac's pairing code is still unclaimed
      When Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

      @fixed
      Examples: with the typed-error fix, the phone names the cause
        | title        | message                                                                             |
        | Code expired | This pairing code has expired. Show a new code in Codex on your Mac and scan again. |

      @legacy
      Examples: today's phone says only that setup failed
        | title        | message                                                |
        | Setup failed | Setup failed. Couldn't finish secure setup. Try again. |

  Rule: A sign-in page lives thirty minutes

    @daemon
    Scenario Outline: Dana leaves the sign-in page open past its lifetime
      She scans the code, the phone opens the sign-in page, and she comes back to it 31 minutes later. The page's
      sign-in session is gone by then (and so is the pairing code, which lived ten minutes).
      When Dana scans the pairing code with her phone and leaves the sign-in page open for 31 minutes
      Then her phone shows "<title>" and says "<message>"
      And her Mac's pairing code is still unclaimed
      When Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

      @fixed
      Examples: with the typed-error fix, the phone names the cause and the action
        | title           | message                                                                                                  |
        | Sign-in expired | The sign-in page was open too long and expired. Show a new pairing code in Codex on your Mac and scan it again. |

      @legacy
      Examples: today's phone says only that setup failed
        | title        | message                                                |
        | Setup failed | Setup failed. Couldn't finish secure setup. Try again. |

    @daemon
    Scenario: A few minutes on the sign-in page do no harm
      When Dana scans the pairing code with her phone and leaves the sign-in page open for 5 minutes
      Then her phone is connected to her Mac

  Rule: Dana's authenticator codes are those of her phone's clock, and the service accepts a code one step either side

    @daemon
    Scenario Outline: Her phone's clock is <how far> off, and her authenticator code is refused
      openai/codex#22802: an iPad's setup failed at secure setup while its authenticator's codes were refused. The
      codes are time-based: a clock more than a code's step (30 seconds) off gives codes the service does not
      accept now. Setting the clock right is the fix.
      Given Dana's phone's clock is <how far>
      When Dana scans the pairing code with her phone
      Then her phone shows "<title>" and says "<message>"
      And her Mac's pairing code is still unclaimed
      When Dana sets her phone's clock right
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

      @fixed
      Examples: with the typed-error fix, the phone says the clock is off and what to do
        | how far        | title                   | message                                                                                                                                                                    |
        | 3 minutes fast | Check your phone's time | Your authenticator code wasn't accepted because the clock on the device with your authenticator app is off. Turn on Set Automatically in Settings › General › Date & Time on that device, then scan the code again. |
        | 2 minutes slow | Check your phone's time | Your authenticator code wasn't accepted because the clock on the device with your authenticator app is off. Turn on Set Automatically in Settings › General › Date & Time on that device, then scan the code again. |

      @legacy
      Examples: today's phone, as in the report
        | how far        | title        | message                                                |
        | 3 minutes fast | Setup failed | Setup failed. Couldn't finish secure setup. Try again. |
        | 2 minutes slow | Setup failed | Setup failed. Couldn't finish secure setup. Try again. |

    @daemon
    Scenario Outline: Her phone's clock is <how far> off, within a code's step, and she pairs
      Given Dana's phone's clock is <how far>
      When Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

      Examples:
        | how far         |
        | 20 seconds fast |
        | 25 seconds slow |

  Rule: The Mac's server token lives an hour; the Mac renews it when the service refuses it

    @daemon
    Scenario: Two hours later, Dana shows a new code and pairs
      Given 2 hours pass
      When Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

    @daemon @xfail_on_codex:real_daemon_keeps_the_machines_clock
    Scenario: Her Mac's clock is two hours slow, so it thinks its server token is still good
      Given Dana's Mac's clock is 2 hours slow
      And 2 hours pass
      When Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

    Scenario Outline: Her Mac's clock is two hours fast, so every server token it gets has already expired
      The service issues each token for an hour of its time; on a Mac two hours ahead, a token is an hour past its
      expiry the moment it arrives, and renewing it brings another such token. The daemon will not pair with it.
      Given Dana's Mac's clock is 2 hours fast
      When Dana shows a new pairing code on her Mac
      Then her Mac shows "<Mac says>" instead of a pairing code

      @legacy
      Examples: today's Mac passes on what the daemon said
        | Mac says                                                                                          |
        | Pairing code unavailable: remote control pairing is unavailable because the server token expired. |

      @fixed
      Examples: with the fix, the Mac says its clock is ahead and what to do
        | Mac says                                                                                                                                                                                                                                                                 |
        | Couldn't get a pairing code because this Mac's clock is 2 hours ahead of ChatGPT's: by this Mac's clock, the permission ChatGPT gives it to pair has already expired. Turn on Set time and date automatically in System Settings › General › Date & Time, then choose Pair phone again. |

  Rule: A browser remembered as Dana's device is remembered thirty days

    @daemon
    Scenario: A month later, her phone's browser asks for her authenticator code again
      Dana's Mac signs in again on its own along the way: its ChatGPT sign-in (ten days) has expired by then, and
      the desktop app refreshes it.
      Given Dana signed in to ChatGPT on her phone before, and its browser remembers her device
      When 31 days pass
      And Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then the sign-in on her phone asked for her authenticator code
      And her phone is connected to her Mac
