"""TwiML of the staff voice menu (issue 15): each service reply as the XML Twilio plays.

The keypad below is the contract (README "Voice menu"). Every prompt is a `<Gather>` whose
action URL carries the next turn number and nothing else; a silent Gather falls through to
a `<Redirect>` to the same URL without Digits, which the menu counts as no input. Speech is
offered where the issue allows it (patient number, minutes, activity, the note); the PIN is
keypad only. Voice and language come from TWILIO_VOICE and VOICE_LANGUAGE.
"""

from dataclasses import dataclass

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from service import voice_menu as menu
from service.voice_menu import VoiceReply

MENU_PATH = "/twilio/voice/menu"
GATHER_SECONDS = 6


@dataclass(frozen=True)
class Prompt:
    text: str
    input: str = "dtmf"  # dtmf | speech | dtmf speech
    one_key: bool = False  # the answer is one key: no pound needed
    hints: str | None = None


_ACTIVITY_WORDS = ", ".join(menu.ACTIVITY_KEYS.values())
PROMPTS: dict[str, Prompt] = {
    menu.PIN: Prompt("Please enter your voice PIN, then press pound."),
    menu.MENU: Prompt("Main menu. Press 1 to log time. Press 2 to hear your at-risk "
                      "patients. Press 3 to add a note to your last call. Press 9 to hear "
                      "this again, or 0 for a person.", one_key=True),
    menu.PATIENT: Prompt("Enter the patient number, then press pound. You can also say it.",
                         "dtmf speech", hints="patient number, P"),
    menu.CHOOSE: Prompt("", one_key=True),
    menu.MINUTES: Prompt("How many minutes? Enter them, then press pound, or say them.",
                         "dtmf speech", hints="minutes"),
    menu.ACTIVITY: Prompt("Which activity? Press 1 for review, 2 for live call, 3 for "
                          "coordination, 4 for adjustment, 5 for education, 6 for other, or 7 "
                          "for a call attempt that reached no one. You can also say it.",
                          "dtmf speech", one_key=True, hints=_ACTIVITY_WORDS),
    menu.CONFIRM: Prompt("Press 1 to save, or 2 to start over.", one_key=True),
    menu.RISK: Prompt("Press 1 to log time for this patient, 2 for the next one, or 9 for "
                      "the main menu.", one_key=True),
    menu.NOTE: Prompt("Say your note after this message, then pause.", "speech"),
    menu.NOTE_CONFIRM: Prompt("Press 1 to save the note, or 2 to say it again.",
                              one_key=True),
    menu.CLOSED: Prompt("Press 0 for a person, or hang up.", one_key=True),
}


@dataclass(frozen=True)
class Voice:
    """How the menu speaks: TWILIO_VOICE, VOICE_LANGUAGE, and who `0` reaches."""

    voice: str
    language: str
    fallback: str | None

    def say(self, parent: VoiceResponse | Gather, text: str) -> None:
        parent.say(text, voice=self.voice, language=self.language)


def render(reply: VoiceReply, *, action_base: str, voice: Voice) -> str:
    """The TwiML for one reply: its sentences, then its step's prompt (or its ending)."""
    response = VoiceResponse()
    if reply.step == menu.GOODBYE:
        for sentence in reply.said:
            voice.say(response, sentence)
        response.hangup()
        return str(response)
    if reply.step == menu.PERSON:
        return person(reply.said, voice)
    action = f"{action_base}{MENU_PATH}?t={reply.turn}"
    prompt = PROMPTS[reply.step]
    gather = Gather(action=action, method="POST", timeout=GATHER_SECONDS,
                    **_gather_options(prompt, voice))
    for sentence in reply.said:
        voice.say(gather, sentence)
    for key, label in enumerate(reply.choices, start=1):
        voice.say(gather, f"Press {key} for {label}.")
    if prompt.text:
        voice.say(gather, prompt.text)
    response.append(gather)
    response.redirect(action, method="POST")  # nothing keyed or said: no input
    return str(response)


def _gather_options(prompt: Prompt, voice: Voice) -> dict[str, object]:
    options: dict[str, object] = {"input": prompt.input}
    if "dtmf" in prompt.input:
        options.update({"num_digits": 1} if prompt.one_key else {"finish_on_key": "#"})
    if "speech" in prompt.input:
        options.update(speech_timeout="auto", language=voice.language)
        if prompt.hints:
            options["hints"] = prompt.hints
    return options


def person(said: tuple[str, ...], voice: Voice) -> str:
    """`0`: the clinic's fallback number (CLINIC_FALLBACK_NUMBER), or an apology."""
    response = VoiceResponse()
    for sentence in said:
        voice.say(response, sentence)
    if not voice.fallback:
        voice.say(response, "Sorry, nobody can take your call right now. Goodbye.")
        response.hangup()
        return str(response)
    response.append(Dial(voice.fallback))
    return str(response)


def unavailable(voice: Voice) -> str:
    """The database did not answer: nothing was saved (HTTP 200: a 5xx would only make
    Twilio play its own error)."""
    response = VoiceResponse()
    voice.say(response, "Sorry, the system is not available right now. Nothing was saved. "
                        "Please try again later. Goodbye.")
    response.hangup()
    return str(response)
