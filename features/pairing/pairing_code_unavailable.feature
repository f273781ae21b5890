@daemon @pairing
Feature: "Pair phone" when the Mac has no pairing code to give
  Codex on the Mac asks its daemon for a pairing code when Dana chooses Pair phone. Two reports of a code that never
  came, each on both daemons (`--daemon mock|codex`):

  - openai/codex#45674, openai/codex#32164, openai/codex#46091: today's Mac says "Pairing code unavailable: remote
    control pairing is unavailable until enrollment completes." The daemon says so when the ChatGPT service turns down
    its pairing request twice, once with the server token it had and once with a renewed one (the real daemon then
    drops its token): its enrollment is no longer complete, even though the Mac still shows it is ready. A proxy that
    answers ChatGPT's requests with its own page does just that. With the fix, the Mac asks once more when its
    daemon is connected again, and says what stands in the way if it is turned down again.
  - openai/codex#38534: the Mac is still enrolling (remote control connecting, its environment unknown:
    `environmentId: null`) and the ChatGPT service is slow to answer. The daemon holds the pairing request until the
    enrollment is answered, and today's desktop gives up after the 2 seconds the daemon's control client waits
    (`timed out waiting for remoteControl/pairing/start response`, caused by `deadline has elapsed`). With the fix
    the Mac says it is still enrolling and shows the code as soon as it can.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication

  Rule: A pairing request ChatGPT turns down twice leaves the Mac without a code, though it says it is ready

    Background:
      Given Dana is signed in to Codex on her Mac with multi-factor authentication
      And Dana turns on "Allow other devices to connect" on her Mac

    Scenario Outline: The ChatGPT service turns down the Mac's pairing request with HTTP <status> <how often>
      Given the ChatGPT service answers the Mac's pairing request with HTTP <status> and <body> <how often>
      When Dana shows the pairing code on her Mac
      Then her Mac shows "<Mac says>" instead of a pairing code
      And Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."

      @legacy
      Examples: today's Mac passes on what the daemon said
        | status | body                     | how often        | Mac says                                                                                 |
        | 401    | an empty body            | the next 2 times | Pairing code unavailable: remote control pairing is unavailable until enrollment completes. |
        | 403    | a proxy's challenge page | every time       | Pairing code unavailable: remote control pairing is unavailable until enrollment completes. |

      @fixed
      Examples: with the fix, the Mac asks once more, then says what is in the way
        | status | body                     | how often  | Mac says                                                                                                                                                                                     |
        | 403    | a proxy's challenge page | every time | Couldn't get a pairing code: ChatGPT turned down this Mac's pairing request again after it reconnected. If this Mac is on a network with a proxy or firewall, allow chatgpt.com or try another network, then choose Pair phone again. |

    @fixed
    Scenario: With the fix, a token ChatGPT turned down is renewed and the code is shown
      Given the ChatGPT service answers the Mac's pairing request with HTTP 401 and an empty body the next 2 times
      When Dana shows the pairing code on her Mac
      Then her Mac shows a pairing code to scan
      When Dana scans the pairing code with her phone
      Then her phone is connected to her Mac

  Rule: A pairing code asked for while the Mac is still enrolling comes when the enrollment does

    Background:
      Given Dana turns on "Allow other devices to connect" on her Mac
      And the ChatGPT service is slow to answer the Mac's enrollment
      And Dana is signed in to Codex on her Mac with multi-factor authentication

    Scenario Outline: Dana chooses Pair phone while ChatGPT has not answered the Mac's enrollment yet
      When Dana shows the pairing code on her Mac
      Then her Mac shows "<at first>" instead of a pairing code
      When 2 seconds pass
      Then her Mac now shows "<then>" instead of a pairing code

      @legacy
      Examples: today's Mac gives up after 2 seconds
        | at first                | then                                                                                                   |
        | Getting a pairing code… | Pairing code unavailable: timed out waiting for remoteControl/pairing/start response: deadline has elapsed. |

      @fixed
      Examples: with the fix, the Mac says it is still enrolling, however long that takes
        | at first                                                                                                                                          | then                                                                                                                                              |
        | This Mac is still enrolling with ChatGPT, so there is no pairing code yet. Keep Codex open: the code appears here as soon as enrollment completes. | This Mac is still enrolling with ChatGPT, so there is no pairing code yet. Keep Codex open: the code appears here as soon as enrollment completes. |

    @legacy
    Scenario: Today's Mac was still connecting, with no environment, when it gave up
      When Dana shows the pairing code on her Mac
      And 2 seconds pass
      Then her Mac now shows "Pairing code unavailable: timed out waiting for remoteControl/pairing/start response: deadline has elapsed." instead of a pairing code
      And Codex on her Mac logged "status: connecting, environmentId: null"
      When the ChatGPT service answers the Mac's enrollment
      Then her Mac now shows "Pairing code unavailable: timed out waiting for remoteControl/pairing/start response: deadline has elapsed." instead of a pairing code

    @fixed
    Scenario: With the fix, the code appears once ChatGPT answers the Mac's enrollment
      When Dana shows the pairing code on her Mac
      And the ChatGPT service answers the Mac's enrollment
      Then the pairing code appears on her Mac
      When Dana scans the pairing code with her phone
      Then her phone is connected to her Mac
