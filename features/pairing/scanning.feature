@pairing @refusals
Feature: The phone says what is wrong with what it scanned
  Dana points her phone's camera at something to pair with her Mac. When it is not her Mac's pairing code, when the
  camera cannot read the code, or when the code is newer than her app, the phone says so and what to do before it
  asks her to sign in, and her Mac's code stays unused.

  Background:
    Given Dana has a ChatGPT account with multi-factor authentication
    And Dana is signed in to Codex on her Mac with multi-factor authentication
    And Dana turns on "Allow other devices to connect" on her Mac
    And Dana shows the pairing code on her Mac

  Rule: The phone reads the code from the camera's pixels, and pairs only with a Codex pairing code it understands

    Scenario Outline: Dana scans <what she scans>
      When Dana scans <what she scans> with her phone
      Then her phone shows "<title>" and says "<message>"
      And her Mac's pairing code is still unclaimed

      Examples:
        | what she scans                                           | title                   | message                                                                                                            |
        | the QR code on a restaurant's menu                       | Not a pairing code      | This QR code is not a Codex pairing code. In Codex on your Mac, open Settings › Connections and choose Pair phone. |
        | a photo of the Mac's screen with a glare across the code | Couldn't read the image | The camera image couldn't be read. Hold your phone steady in front of your Mac's screen and scan again.            |
        | a photo of the desk, with no QR code in it               | No QR code found        | No QR code was found. Point your camera at the code shown in Codex on your Mac.                                    |
        | a pairing code drawn by a newer version of Codex         | Update required         | This pairing code needs a newer version of the app. Update the ChatGPT app, then scan again.                       |
