"""The Twilio routes: parse (payloads), call one service method, render (twiml).

A callback is answered 200 only once its call is stored; a database fault answers 503 (Twilio
retries it when the webhook URL asks for retries on 5xx, README; reconciliation heals the
rest); a form Twilio would not send (payloads.BadPayload, or a value the service refuses)
answers 400 with nothing stored, except on the routes that carry a live call, which go on
without storing it. A call's DM is queued with the call in its transaction and delivered by
the scheduler leader (service/notices.py); a voice lock's DMs go out after the commit, in a
background task. Either way Slack can never turn a stored call into an error.

Every route answers within TWILIO_WEBHOOK_DEADLINE_MS (a voice menu turn: within
VOICE_WRITE_DEADLINE_MS and MENU_MARGIN_S), whatever the database does (configuration/deadlines.py):
a database that does not answer is a fault like any other, and what was given up is never
saved later.
"""

import logging
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from starlette.datastructures import FormData

from configuration.deadlines import ANSWER_MARGIN_S, NoAnswer, within
from configuration.settings import Settings
from observability.metrics import Metrics
from service import Service
from service.calls import CallEvent
from service.errors import InvalidInput, StoreConflict, StoreUnavailable
from service.voice_access import PinLimits
from telephony import notify, payloads, twiml, voice_menu
from telephony.notify import CallNotifier
from telephony.payloads import BadPayload
from telephony.security import signed_form

log = logging.getLogger("rpm_logger.telephony")

# A menu turn's own deadline (VOICE_WRITE_DEADLINE_MS) bounds its database waits, not the
# PIN's deliberately slow hash between them (~50 ms, more on a loaded machine): the turn is
# waited for this much longer, so that it says "busy, try again" itself whenever it can.
MENU_MARGIN_S = 1.0

# a status callback's outcome besides the state it moved its call to (counted, attempt,
# short, unmatched, refused, ...): rpm_twilio_callbacks_total
UNCHANGED, INVALID, NOT_STORED = "unchanged", "invalid", "not_stored"

STATUS_PATH = "/twilio/voice/status"
SCREEN_PATH = "/twilio/voice/screen"
SCREEN_ANSWER_PATH = "/twilio/voice/screen/answer"


def _xml(body: str, status: int = 200) -> Response:
    return Response(content=body, media_type="application/xml", status_code=status)


def _unavailable(exc: Exception) -> Response:
    log.error("twilio callback not stored: %s", exc)
    return Response(content="database unavailable", status_code=503,
                    media_type="text/plain", headers={"Retry-After": "1"})


def _service(request: Request) -> Service:
    return request.app.state.service


def _bad_request(what: str, exc: Exception) -> Response:
    log.warning("%s refused: %s", what, exc)  # BadPayload names the field, not its value
    return Response(content=f"refused: {exc}", status_code=400, media_type="text/plain")


def _call_event(request: Request, form: FormData, required: tuple[str, ...]) -> CallEvent:
    """The form checked against Twilio's shape and this route's fields, as a CallEvent."""
    payloads.check_form(form.multi_items(), required)
    return payloads.call_event(form, received=_service(request).ctx.now())


_CALL_FIELDS = ("CallSid", "CallStatus", "Direction", "From", "To", "Caller", "Called",
                "ParentCallSid", "CallDuration", "AnsweredBy", "SequenceNumber", "Timestamp")
_TWIML: dict[int | str, dict[str, Any]] = {
    200: {"description": "TwiML", "content": {"application/xml": {}}},
    403: {"description": "bad X-Twilio-Signature or another account: nothing recorded"},
    503: {"description": "not stored (database); Twilio retries"},
}


def _form_doc(required: tuple[str, ...], *fields: str) -> dict[str, Any]:
    """OpenAPI of a callback: the signed form fields it reads, with their bounds
    (payloads.field_schema), and those it requires (Twilio sends more)."""
    names = ("AccountSid", *required, *(f for f in fields if f not in required))
    properties = {name: payloads.field_schema(name) for name in names}
    return {
        "parameters": [{"name": "X-Twilio-Signature", "in": "header", "required": True,
                        "schema": {"type": "string"}}],
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": properties,
                       "required": ["AccountSid", *required]}}}},
    }


def make_router(settings: Settings, notifier: CallNotifier | None,
                metrics: Metrics | None = None) -> APIRouter:
    """`notifier`: who tells staff about their calls (rpm_logger/app.py wires Slack's);
    `metrics`: the app's, which status callbacks are counted into by outcome."""
    metrics = metrics or Metrics()
    base = (settings.public_base_url or "").rstrip("/")
    verify = signed_form(settings)  # one callable: FastAPI runs it once per request
    voice = voice_menu.Voice(settings.twilio_voice, settings.voice_language,
                             settings.clinic_fallback_number)
    pin_limits = PinLimits(per_number=settings.voice_wrong_pins_per_number,
                           clinic=settings.voice_wrong_pins_per_hour)
    answer_s = settings.twilio_webhook_deadline_ms / 1000  # a webhook is answered by then
    wait_s = answer_s - ANSWER_MARGIN_S  # and the service gives up by then
    menu_wait_s = settings.voice_write_deadline_ms / 1000
    router = APIRouter(dependencies=[Depends(verify)], tags=["twilio"],
                       default_response_class=Response, responses=_TWIML)
    Form = Annotated[FormData, Depends(verify)]

    @router.post(STATUS_PATH, openapi_extra=_form_doc(payloads.STATUS_FIELDS, *_CALL_FIELDS))
    async def voice_status(request: Request, form: Form) -> Response:
        try:
            event = _call_event(request, form, payloads.STATUS_FIELDS)
            outcome = await within(answer_s, lambda: _service(request).calls.record_status(
                event, wait_s=wait_s))
        except (StoreUnavailable, StoreConflict, NoAnswer) as exc:
            metrics.twilio_callback(NOT_STORED)
            return _unavailable(exc)
        except (BadPayload, InvalidInput) as exc:
            metrics.twilio_callback(INVALID)
            return _bad_request("twilio status callback", exc)
        metrics.twilio_callback(outcome.became or UNCHANGED)
        courier = getattr(request.app.state, "notices", None)
        if outcome.notice and courier is not None:
            courier.wake()  # the DM is queued with the call: delivered now, off this request
        return _xml(twiml.empty())

    @router.post("/twilio/voice/incoming",
                 openapi_extra=_form_doc(payloads.INCOMING_FIELDS, *_CALL_FIELDS))
    async def voice_incoming(request: Request, form: Form) -> Response:
        try:
            event = _call_event(request, form, payloads.INCOMING_FIELDS)
            # a staff member's registered phone gets the voice menu, decided before the
            # call is recorded as a bridge (service/voice_menu.py); others as before
            route = await within(answer_s, lambda: _service(request).voice_menu.incoming(
                event, fallback=settings.clinic_fallback_number, wait_s=wait_s))
            if route.menu is not None:
                return _xml(voice_menu.render(route.menu, action_base=base, voice=voice))
            dial_to = route.dial_to
        except (StoreUnavailable, StoreConflict, NoAnswer, InvalidInput, BadPayload) as exc:
            # the caller is a patient: ring the clinic anyway; the dialed leg's callbacks
            # are retried/reconciled once the database is back (an odd form: nothing stored)
            log.error("incoming call not recorded, dialing the fallback: %s", exc)
            dial_to = settings.clinic_fallback_number
        if not dial_to:
            return _xml(twiml.nobody_to_dial(voice=voice.voice, language=voice.language))
        return _xml(twiml.bridge(dial_to=dial_to, caller_id=None,
                                 status_url=base + STATUS_PATH, screen_url=base + SCREEN_PATH))

    @router.post(voice_menu.MENU_PATH, openapi_extra=_form_doc(
        payloads.MENU_FIELDS, "Digits", "SpeechResult", "Confidence"))
    async def voice_menu_turn(request: Request, form: Form,
                              tasks: BackgroundTasks) -> Response:
        """One turn of the staff voice menu: always TwiML with 200, even when the database
        is down (a 5xx would only make Twilio play its own error)."""
        try:
            payloads.check_form(form.multi_items(), payloads.MENU_FIELDS)
            call_sid = payloads.call_sid(form)
        except BadPayload as exc:
            return _bad_request("voice menu turn", exc)
        turn = payloads.menu_turn(request.query_params.get("t"))
        answer = payloads.menu_answer(form)
        try:
            reply = await within(menu_wait_s + MENU_MARGIN_S,
                                 lambda: _service(request).voice_menu.answer(
                                     call_sid, turn, answer, pin_limits=pin_limits,
                                     write_wait_s=menu_wait_s,
                                     min_confidence=settings.voice_min_speech_confidence))
        except (StoreUnavailable, StoreConflict, NoAnswer, InvalidInput) as exc:
            log.error("voice menu turn not answered: %s", type(exc).__name__)
            return _xml(voice_menu.unavailable(voice))
        if reply.notices:
            tasks.add_task(notify.send_voice_notices, notifier, reply.notices)
        return _xml(voice_menu.render(reply, action_base=base, voice=voice))

    @router.post(SCREEN_PATH, openapi_extra=_form_doc(payloads.SCREEN_FIELDS, "ParentCallSid"))
    async def voice_screen(request: Request, form: Form) -> Response:
        try:
            event = _call_event(request, form, payloads.SCREEN_FIELDS)
            label = await within(answer_s, lambda: _service(request).calls.screening_label(
                event.parent_call_sid, to_number=event.to_number, wait_s=wait_s))
        except (StoreUnavailable, NoAnswer, InvalidInput, BadPayload):
            label = "a patient"
        if label is None:  # an inactive member's phone: no whisper, never connected
            return _xml(twiml.hang_up())
        return _xml(twiml.screen(caller_label=label, action_url=base + SCREEN_ANSWER_PATH,
                                 voice=voice.voice, language=voice.language))

    @router.post(SCREEN_ANSWER_PATH,
                 openapi_extra=_form_doc(payloads.SCREEN_FIELDS, "ParentCallSid", "Digits"))
    async def voice_screen_answer(request: Request, form: Form) -> Response:
        try:
            accepted = payloads.digits(form) == "1"
        except BadPayload:
            accepted = False
        try:
            event = _call_event(request, form, payloads.SCREEN_FIELDS)
            outcome = await within(answer_s, lambda: _service(request).calls.record_screening(
                event, accepted=accepted, wait_s=wait_s))
            accepted = accepted and outcome.connect  # never an inactive member (issue 24)
        except (StoreUnavailable, StoreConflict, NoAnswer, InvalidInput, BadPayload) as exc:
            # never drop a patient mid-call: connect; the leg is then judged unaccepted
            # and an admin can see it in the call list
            log.error("screening answer not recorded: %s", exc)
        return _xml(twiml.accepted() if accepted else twiml.hang_up())

    @router.post("/twilio/messaging",
                 openapi_extra=_form_doc(payloads.SMS_FIELDS))
    async def messaging(request: Request, form: Form) -> Response:
        try:
            payloads.check_form(form.multi_items(), payloads.SMS_FIELDS)
            event = payloads.sms_event(form)
            await within(answer_s, lambda: _service(request).calls.record_sms(
                event, wait_s=wait_s))
        except (StoreUnavailable, StoreConflict, NoAnswer) as exc:
            return _unavailable(exc)
        except (BadPayload, InvalidInput) as exc:
            return _bad_request("twilio sms", exc)
        return _xml(twiml.empty_messaging())

    return router
