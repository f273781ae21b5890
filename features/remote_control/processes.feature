@daemon @remote_control
Feature: When Codex restarts, the Mac changes account, or the phone is removed
  The processes around a pairing change while people use it: Codex's daemon restarts, the phone app is killed, the
  Mac signs out or switches to another ChatGPT account or workspace, a paired phone is removed on the Mac or from
  the ChatGPT account. What each of them kept must still work, and what can no longer work must say so. The same
  scenarios run with our mock daemon and with the real Codex daemon (`--daemon codex`); what crosses the wire is in
  features/conformance/processes_wire.feature.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication and the team workspace "Acme"
    And Dana is signed in to Codex on her Mac with multi-factor authentication, and her Mac's browser remembers her device
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac
    And Dana scans the pairing code with her phone

  Rule: What Codex and the phone app keep on disk survives their restarts

    Scenario: The phone app is killed and opened again
      When Dana's phone app is killed and opened again
      Then her phone is connected to her Mac
      When Dana opens the list of her Macs on her phone
      Then her phone lists her Mac as "Online"

    Scenario: The Codex daemon on the Mac restarts, and the phone app opens on it again
      When the Codex daemon on her Mac restarts
      And Dana's phone app is killed and opened again
      Then Settings › Connections on her Mac says "Ready. Scan the QR code with your phone to connect."
      And her phone is connected to her Mac

  Rule: A Mac that signed out is offline for the phone

    Scenario: Dana signs out of Codex on her Mac
      When Dana signs out of Codex on her Mac
      And Dana opens the list of her Macs on her phone
      Then her phone lists her Mac as "Offline", "last seen just now"

  Rule: A Mac that switched account or workspace leaves the phone that paired with the old one

    Background:
      Given Sam has a ChatGPT account with multi-factor authentication

    Scenario Outline: Dana's phone lists her Mac after Codex on it switched to <switch to>
      openai/codex#23977 and a comment on openai/codex#24328: Codex's enrollment with the ChatGPT service is kept per
      account, so a Mac that switches to another account or workspace leaves the environment the phone paired with.
      Today the phone only shows that Mac as offline since the switch; with the fix it says why, and what to do.

      When Dana switches Codex on her Mac to <switch to>
      And 11 hours pass
      And Dana opens the list of her Macs on her phone
      Then her phone lists her Mac as "<status>", "<detail>"

      @legacy
      Examples: today's phone, as users quoted it
        | switch to             | status  | detail                  |
        | the "Acme" workspace  | Offline | last seen ~11 hours ago |
        | Sam's ChatGPT account | Offline | last seen ~11 hours ago |

      @fixed
      Examples: with the fix, the phone names the cause and the action
        | switch to             | status  | detail                                                                                                                                      |
        | the "Acme" workspace  | Offline | This Mac is signed in to another ChatGPT account or workspace now. Sign in to Codex on it with this account again, or pair your phone with the account it uses now. |
        | Sam's ChatGPT account | Offline | This Mac is signed in to another ChatGPT account or workspace now. Sign in to Codex on it with this account again, or pair your phone with the account it uses now. |

  Rule: A phone removed on the Mac or from the account must pair again, and the Mac must not wait for it

    Background:
      Given Dana sees her phone among the devices that control her Mac

    @fixed
    Scenario: With the fix, a phone removed while it is connected says so at once
      When Dana removes her phone in Settings › Connections on her Mac
      Then her phone now shows "Removed from this Mac" and says "This phone was removed from Codex on your Mac, there or in your ChatGPT account settings. Scan a new pairing code from your Mac to pair it again."

    Scenario Outline: The Mac's pairing page after Dana removed her phone <where>
      openai/codex#23112, openai/codex#23247: the desktop keeps its entry for a phone that was removed, waits for that
      phone to approve the new code (which it never can: the ChatGPT service says it was revoked), and says only
      "Approve on mobile device". With the fix it says the phone was removed and what to do.

      When Dana removes her phone <where>
      And Dana shows a new pairing code on her Mac
      Then her Mac shows "<page says>" beside the pairing code

      @legacy
      Examples: today's desktop
        | where                                   | page says                |
        | in Settings › Connections on her Mac    | Approve on mobile device |
        | from the devices in her ChatGPT account | Approve on mobile device |

      @fixed
      Examples: with the fix, the desktop names the cause and the action
        | where                                   | page says                                                                                                |
        | in Settings › Connections on her Mac    | Dana's phone was removed from this Mac, so it can't approve this code. Scan the code with it to pair it again. |
        | from the devices in her ChatGPT account | Dana's phone was removed from this Mac, so it can't approve this code. Scan the code with it to pair it again. |

    Scenario Outline: Dana scans the new code with the phone she removed <where>
      openai/codex#23112: the phone opens the connection it kept for that Mac instead of claiming the new code, so
      today it never gets past secure setup and the code stays unclaimed; with the fix it claims the code and pairs.

      When Dana removes her phone <where>
      And Dana shows a new pairing code on her Mac
      And Dana scans the pairing code with her phone
      Then the pairing on her phone ends with "<phone says>"
      And her Mac's pairing code <code>

      @legacy
      Examples: today's phone
        | where                                   | phone says                                             | code              |
        | in Settings › Connections on her Mac    | Setup failed. Couldn't finish secure setup. Try again. | is still unclaimed |
        | from the devices in her ChatGPT account | Setup failed. Couldn't finish secure setup. Try again. | is still unclaimed |

      @fixed
      Examples: with the fix
        | where                                   | phone says                                                 | code            |
        | in Settings › Connections on her Mac    | You can now follow and approve Codex work from this phone. | has been claimed |
        | from the devices in her ChatGPT account | You can now follow and approve Codex work from this phone. | has been claimed |

    Scenario Outline: Dana opens a chat on the phone she removed <where>, after <comes back>
      openai/codex#23290: the phone restores the connection it kept (after the app is opened again, or on a new
      phone set up from its backup); opening a chat is refused with a 403, and today the phone shows only the status
      and the ChatGPT service's request id for that request. With the fix it says the phone was removed and what to
      do.

      When Dana removes her phone <where>
      And <comes back>
      And Dana opens her last chat with her Mac on her phone
      Then the chat on her phone says "<phone says>"

      @legacy
      Examples: today's phone, as users quoted it
        | where                                   | comes back                                                                         | phone says                                                                           |
        | in Settings › Connections on her Mac    | Dana's phone app is killed and opened again                                        | Error loading messages: There is a problem with your request. (403, {request id}) |
        | from the devices in her ChatGPT account | Dana sets up a new phone from her phone's backup and opens the ChatGPT app on it | Error loading messages: There is a problem with your request. (403, {request id}) |

      @fixed
      Examples: with the fix, the phone names the cause and the action
        | where                                   | comes back                                                                         | phone says                                                                                                                              |
        | in Settings › Connections on her Mac    | Dana's phone app is killed and opened again                                        | This phone was removed from Codex on your Mac, there or in your ChatGPT account settings. Scan a new pairing code from your Mac to pair it again. |
        | from the devices in her ChatGPT account | Dana sets up a new phone from her phone's backup and opens the ChatGPT app on it | This phone was removed from Codex on your Mac, there or in your ChatGPT account settings. Scan a new pairing code from your Mac to pair it again. |
