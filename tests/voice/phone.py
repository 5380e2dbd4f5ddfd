"""A phone for the voice menu tests: it calls the real app as Twilio would and follows the
TwiML each step returns, so a test reads like a call.

`dial()` posts /twilio/voice/incoming; `press("1042")`, `say("twelve minutes")` and
`wait()` answer the current `<Gather>` the way Twilio does: keys or a transcript posted to
its `action`, or (silence) the `<Redirect>` after it, without Digits. Every request is
signed for PUBLIC_BASE_URL + path + query, as Twilio signs the URL it was given.
"""

import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import httpx

from tests.telephony.conftest import ACCOUNT_SID, CLINIC_NUMBER, PUBLIC_BASE_URL, TwilioApp, new_sid


def assert_every_say_has_the_voice(root: ET.Element, app: TwilioApp) -> None:
    """Every <Say> speaks with TWILIO_VOICE (and VOICE_LANGUAGE): Twilio's default voice
    is not one its BAA covers (outside nurse review: the screening prompt had none)."""
    for say in root.iter("Say"):
        assert (say.get("voice"), say.get("language")) == \
            (app.settings.twilio_voice, app.settings.voice_language), ET.tostring(say)


class Phone:
    def __init__(self, app: TwilioApp, from_: str, *, to: str = CLINIC_NUMBER) -> None:
        self.app = app
        self.from_ = from_
        self.to = to
        self.sid = new_sid()
        self.heard: list[str] = []  # every <Say>, in order, the whole call
        self.transcript: list[str] = []  # what the caller did and heard, in order
        self.twiml: ET.Element | None = None
        self.response: httpx.Response | None = None

    # -- what the caller does --------------------------------------------------------------

    def dial(self) -> "Phone":
        form = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": self.sid,
                "CallStatus": "ringing", "Direction": "inbound", "From": self.from_,
                "Caller": self.from_, "To": self.to, "Called": self.to, "FromCountry": "US"}
        self.transcript.append("*(calls the clinic number)*")
        return self._post("/twilio/voice/incoming", form)

    def press(self, digits: str) -> "Phone":
        one_key = self.gather.get("numDigits") == "1"
        self.transcript.append(f"*(presses {digits}{'' if one_key else ' #'})*")
        return self._post(self.action, self._form(Digits=digits, FinishedOnKey="#",
                                                  msg="Gather End"))

    def say(self, speech: str, confidence: str = "0.91") -> "Phone":
        self.transcript.append(f'*(says "{speech}")*')
        return self._post(self.action, self._form(SpeechResult=speech, Confidence=confidence))

    def wait(self) -> "Phone":
        """Silence: Twilio follows the <Redirect> after the Gather, with no Digits."""
        redirect = self.root.find("./Redirect")
        assert redirect is not None and redirect.text, self.text
        self.transcript.append("*(says nothing)*")
        return self._post(self._path(redirect.text), self._form())

    def again(self, path: str, **fields: str) -> "Phone":
        """Post to `path` (a retry of an earlier turn, say) with these fields."""
        return self._post(path, self._form(**fields))

    # -- what the caller hears -------------------------------------------------------------

    @property
    def root(self) -> ET.Element:
        assert self.twiml is not None, "not dialled yet"
        return self.twiml

    @property
    def text(self) -> str:
        assert self.response is not None
        return self.response.text

    @property
    def said(self) -> str:
        """Everything the last reply says, one string."""
        return " ".join(s.text or "" for s in self.root.iter("Say"))

    @property
    def gather(self) -> ET.Element:
        gather = self.root.find("./Gather")
        assert gather is not None, f"no Gather in {self.text}"
        return gather

    @property
    def action(self) -> str:
        return self._path(self.gather.get("action") or "")

    @property
    def hung_up(self) -> bool:
        return self.root.find("./Hangup") is not None

    @property
    def dialed(self) -> str | None:
        dial = self.root.find("./Dial")
        if dial is None:
            return None
        number = dial.find("./Number")
        return (number.text if number is not None else dial.text) or None

    # -- plumbing --------------------------------------------------------------------------

    def _form(self, **fields: str) -> dict[str, str]:
        return {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": self.sid,
                "CallStatus": "in-progress", "Direction": "inbound", "From": self.from_,
                "To": self.to, **fields}

    @staticmethod
    def _path(url: str) -> str:
        assert url.startswith(PUBLIC_BASE_URL), url
        parts = urlsplit(url)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    def _post(self, path: str, form: dict[str, str]) -> "Phone":
        response = self.app.post(path, form)
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/xml")
        self.response = response
        self.twiml = ET.fromstring(response.text)
        assert_every_say_has_the_voice(self.twiml, self.app)
        self.heard.extend(s.text or "" for s in self.twiml.iter("Say"))
        self.transcript.extend(f"> {s.text or ''}" for s in self.twiml.iter("Say"))
        if self.dialed:
            self.transcript.append("*(the call is put through to the clinic)*")
        elif self.hung_up:
            self.transcript.append("*(the bot hangs up)*")
        return self
