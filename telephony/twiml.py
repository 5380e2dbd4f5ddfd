"""TwiML rendering, kept apart from parsing: each function returns the XML Twilio reads."""

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

STATUS_EVENTS = "initiated ringing answered completed"


def empty() -> str:
    """`<Response/>`: the fast, do-nothing reply to callbacks."""
    return str(VoiceResponse())


def empty_messaging() -> str:
    return str(MessagingResponse())


def bridge(*, dial_to: str, caller_id: str | None, status_url: str, screen_url: str,
           timeout: int = 25) -> str:
    """Ring a staff phone; the dialed leg reports its status and first plays the screening
    whisper (`<Number url>`), so it connects only when a person presses 1."""
    response = VoiceResponse()
    dial = Dial(caller_id=caller_id, timeout=timeout, answer_on_bridge=True)
    dial.number(dial_to, url=screen_url, method="POST", status_callback=status_url,
                status_callback_event=STATUS_EVENTS, status_callback_method="POST")
    response.append(dial)
    return str(response)


def nobody_to_dial(*, voice: str, language: str) -> str:
    response = VoiceResponse()
    response.say("Sorry, nobody can take your call right now. Please call again later.",
                 voice=voice, language=language)
    response.hangup()
    return str(response)


def screen(*, caller_label: str, action_url: str, voice: str, language: str) -> str:
    """The whisper to the staff member: "call from P-1042, press 1". Without a key press
    (a voicemail greeting, nobody there) the leg hangs up and never counts. Every <Say>
    speaks with TWILIO_VOICE (a voice Twilio's BAA covers)."""
    response = VoiceResponse()
    gather = Gather(num_digits=1, action=action_url, method="POST", timeout=8)
    gather.say(f"Call from {spoken(caller_label)}. Press 1 to accept.", voice=voice,
               language=language)
    response.append(gather)
    response.hangup()
    return str(response)


def accepted() -> str:
    """An empty response after the key press: Twilio then bridges the two legs."""
    return str(VoiceResponse())


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def click_to_call(*, patient_phone: str, caller_id: str | None, status_url: str) -> str:
    """Run on the staff leg once the staff member answers: bridge the patient, with
    answering-machine detection and status callbacks on the patient leg."""
    response = VoiceResponse()
    dial = Dial(caller_id=caller_id, answer_on_bridge=True)
    dial.number(patient_phone, machine_detection="Enable", status_callback=status_url,
                status_callback_event=STATUS_EVENTS, status_callback_method="POST")
    response.append(dial)
    return str(response)


def spoken(label: str) -> str:
    """'P-1042 (JD)' read aloud: the clinic id and initials only."""
    return label.replace("(", "").replace(")", "")
