@daemon @mfa
Feature: Turning on connections after turning on multi-factor authentication
  openai/codex#41747, openai/codex#46601, openai/codex#46449, openai/codex#43459. Dana had no multi-factor
  authentication when Codex on her Mac signed in. Remote control needs it, so turning on "Allow other devices to
  connect" does not take. She turns it on for her account and tries again, and it still fails: today's Mac says only
  "Couldn't update remote control availability" and "Unable to enable remote control. Please try again." The cause:
  Codex on the Mac is still signed in from before, without MFA. Turning MFA on changes no sign-in that already
  exists, and when the ChatGPT service turns the Mac down the daemon only reads that same sign-in again (its log:
  `Reloaded auth, changed: false`) and is turned down again. The desktop reports that its request went through
  (`errorCode=null`) rather than why remote control is not on. With the fix the Mac says that its sign-in predates MFA
  and what to do; signing in again with the authenticator code makes it work. Both daemons (`--daemon mock|codex`).

  Background:
    Given Dana has a ChatGPT account without multi-factor authentication
    And Dana is signed in to Codex on her Mac without multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac

  Rule: A sign-in made before MFA was turned on cannot turn on remote control; signing in again can

    Scenario Outline: Dana turns on MFA for her account, and turning on connections still fails
      When Dana turns on multi-factor authentication on her account
      And Dana turns off "Allow other devices to connect" on her Mac
      And Dana turns on "Allow other devices to connect" on her Mac
      Then Codex on her Mac shows "Couldn't update remote control availability" and says "<Mac says>"
      And the daemon on her Mac reloaded her sign-in and found it unchanged
      When Dana signs in to Codex on her Mac again
      Then the sign-in on her Mac asked for her authenticator code
      And Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."

      @legacy
      Examples: today's Mac
        | Mac says                                           |
        | Unable to enable remote control. Please try again. |

      @fixed
      Examples: with the fix, the Mac names its sign-in as the cause
        | Mac says                                                                                                                                                                                     |
        | Multi-factor authentication is on for your ChatGPT account, but Codex on this Mac signed in without it. Sign out of Codex on this Mac, sign in again with your authenticator code, then turn on Allow other devices to connect. |

    @legacy @xfail_on_codex:real_daemon_fails_the_enable_request
    Scenario: Today's desktop logs no error code, because the daemon's answer was not an error
      When Dana turns on multi-factor authentication on her account
      And Dana turns off "Allow other devices to connect" on her Mac
      And Dana turns on "Allow other devices to connect" on her Mac
      Then Codex on her Mac logged "errorCode=null"

  Rule: When a proxy's page answers the Mac's security check, the fix says so instead of guessing

    @fixed
    Scenario: A proxy's challenge page answers the Mac's security check
      Given the ChatGPT service answers the Mac's security check with HTTP 403 and a proxy's challenge page every time
      When Dana turns on multi-factor authentication on her account
      And Dana turns off "Allow other devices to connect" on her Mac
      And Dana turns on "Allow other devices to connect" on her Mac
      Then Codex on her Mac shows "Couldn't update remote control availability" and says "Codex couldn't check this account's security settings: a web page answered instead of ChatGPT, so a proxy or firewall on this network may be in the way. Try another network or ask your network admin to allow chatgpt.com, then turn this on again."
