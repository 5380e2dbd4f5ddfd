"""The audit packet on paper: printable HTML (Jinja2) and PDF (fpdf2, laid out in
presentation/packet_pdf.py), shared by the CLI, the dashboard and Slack's link, and the
reading back that `audit packet --verify` does.

Both formats show the same sections (`sections`: one definition of what is printed), print
the SHA-256 of the content's canonical JSON and carry that JSON: HTML in a
`<script type="application/json" id="packet-data">`, PDF as the attached file
`packet.json` (and the digest in the PDF's Subject). Rendering is deterministic: the same
content gives the same bytes (the PDF's dates are the printing time), so a file is
checked by rendering its own content again: any edit, to the data, the digest or the
printed text, makes the two differ.
"""

import io
import json
import logging
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from billing.durations import format_seconds
from billing.months import clinic_time
from service.audit_packets import FORMATS, Packet, canonical_json
from service.views import staff_label

ATTACHMENT = "packet.json"
HOW_TO_VERIFY = ("The data above is embedded in this file as canonical JSON (sorted keys, no "
                 "whitespace); the SHA-256 printed here is that text's digest. "
                 "`rpm-logger audit packet --verify FILE` checks the file against its digest "
                 "(exit 3 when edited) and against the clinic's records today (exit 4 when "
                 "they changed since printing, saying what).")

_env = Environment(loader=PackageLoader("presentation", "templates"),
                   autoescape=select_autoescape(["html"], default=True),
                   trim_blocks=True, lstrip_blocks=True)


# What `--verify` reads, bounded (issue 27, item 5): a packet of 1,000 entries, each with a
# note at its 2,000-character maximum, prints 7.4 MB of HTML (3.1 MB of PDF in v3's text
# layout, 5.5 MB in v4's tables); a real month is a fraction of that. A larger file is
# refused unread; a packet's content nests 6 levels at most.
MAX_PACKET_BYTES = 32 * 1024 * 1024
MAX_CONTENT_DEPTH = 32


class NotAPacket(ValueError):
    """The file carries no packet this program printed (no embedded content or digest)."""


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    empty: str = "none"


@dataclass(frozen=True)
class Section:
    title: str
    pairs: list[tuple[str, str]] = field(default_factory=list)
    table: Table | None = None


# -- what is printed -----------------------------------------------------------------------

def _text(value: Any, none: str = "not on file") -> str:
    if value is None or value == "" or value == []:
        return none
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _person(staff: dict[str, Any] | None) -> str:
    if not staff:
        return "not on file"
    npi = f", NPI {staff['npi']}" if staff.get("npi") else ""
    return f"{staff['name']} ({staff['role']}{npi}; Slack {staff['slack_id']})"


def _who(person: dict[str, Any] | None) -> str:
    """"Nina Nurse (clinical_staff; Slack U01NURSE)"; an operator's text as written."""
    if not person:
        return "-"
    if not person.get("name"):
        return str(person["slack_id"])
    return f"{person['name']} ({person['role']}; Slack {person['slack_id']})"


def _with(party: dict[str, Any]) -> str:
    """Who the live contact was with: the patient or a caregiver, by clinic id and
    initials (the staff member is the "By" column)."""
    patient = f"{party['patient_id']} ({party['initials']})" if party["initials"] \
        else party["patient_id"]
    if party["party"] == "caregiver":
        return f"caregiver of {patient}"
    if party["party"] == "patient":
        return f"patient {patient}"
    return f"{patient}: patient or caregiver not recorded (manual mark)"


def _seconds(seconds: int | None) -> str:
    return "-" if seconds is None else f"{seconds} s ({format_seconds(seconds)})"


def _patient(c: dict[str, Any]) -> Section:
    p = c["patient"]
    order = p["order"]
    return Section("Patient and order", [
        ("Patient (clinic id)", p["patient_id"]), ("Initials", _text(p["initials"])),
        ("Enrolled", f"{_text(p['enrolled_on'], 'not set')} to {_text(p['ended_on'], 'ongoing')}"),
        *_episodes(p),
        ("Consent", _text(p["consent_on"])), ("Conditions (ICD-10)", _text(p["conditions"])),
        ("Ordered by", _person(order["ordered_by"])), ("Order date", _text(order["order_on"])),
        ("Last established-patient visit", _text(p["last_visit_on"])),
        ("Billing provider", _person(c["billing_provider"])),
    ])


def _episodes(p: dict[str, Any]) -> list[tuple[str, str]]:
    """Every enrolment episode (format v3 on; an older packet prints as it was printed)."""
    if "episodes" not in p:
        return []
    return [("Enrolment episodes", "; ".join(
        f"{_text(e['started_on'], 'not set')} to {_text(e['ended_on'], 'ongoing')}"
        for e in p["episodes"]))]


def _may_be_billed(m: dict[str, Any]) -> str:
    """Yes only for a month in the programme that supports a code and nothing holds
    (outside auditor: a month before enrolment printed 'yes')."""
    if not m["in_programme"]:
        return "no: not in the month's programme"
    if not m["codes_text"]:
        why = m.get("no_code_because")  # format v5 on
        return "no: the month supports no code" + (f" ({why})" if why else "")
    if m["hold_reasons"]:
        return "no, held: " + "; ".join(m["hold_reasons"])
    return "yes (consent and order on file)"


def _month(c: dict[str, Any]) -> Section:
    m = c["month"]
    billed = c["billed_at_close"]
    pairs = [
        ("Month", f"{m['month']} ({m['clinic_timezone']})"),
        ("In the month's programme", _text(m["in_programme"])),
        ("Codes the month supports", m["codes_text"] or "none"),
        ("May be billed", _may_be_billed(m)),
        ("Date of service", _text(m["date_of_service"], "none (no code supported)")),
        ("Date of service rule", m["date_of_service_rule"]),
        ("Counted time", _seconds(m["counted_seconds"])),
        ("Time logged but not counted", _seconds(m["not_counted_seconds"])),
        ("Live interactions",
         f"{m['live_interactions']} on {_text(m['live_interaction_dates'], '-')}"),
        ("Warnings", _text(m["warnings"], "none")),
    ]
    if billed:
        closed = clinic_time(datetime.fromisoformat(billed["closed_at"]),
                             ZoneInfo(m["clinic_timezone"]))
        pairs += [("Billed at close", f"{_billed(billed)} (closed {closed} by "
                                      f"{_signed(billed, 'closed_by')}, record "
                                      f"{billed['record']})"),
                  ("Changed since close", "yes: " + _text(billed["cause"]) + "; "
                   + _text(billed["follow_up"]) if billed["differs"] else "no")]
    else:
        pairs.append(("Billed at close", "the month has not been closed"))
    staff = Table(("Staff member", "Role", "Counted", "Logged", "Counts"),
                  [(s["name"], s["role"], _seconds(s["counted_seconds"]),
                    _seconds(s["logged_seconds"]), _text(s["counts"])) for s in m["staff"]],
                  "no time logged")
    return Section("Codes and time", pairs, staff)


def _billed(billed: dict[str, Any]) -> str:
    """The codes billed at close: the time codes alone before v7; from v7 the device codes
    beside them ("time codes none; device codes 99453;99445")."""
    if "device_codes_text" not in billed:
        return billed["codes_text"] or "none"
    device = billed["device_codes_text"]
    return (f"time codes {billed['codes_text'] or 'none'}; device codes "
            + ("not recorded at this close" if device is None else device or "none"))


def _period(p: dict[str, Any]) -> str:
    """A device period: its codes when dated in the month; from v7 a period running past
    the month's end with its days up to the month's last day, its codes another month's."""
    if "counted_through" in p and p["codes_text"] is None:
        return (f"{p['start']} to {p['end']}: {p['days']} days to {p['counted_through']}; "
                f"its codes are dated {p['date_of_service']}, that month's claim")
    return (f"{p['start']} to {p['end']}: {p['days']} days, "
            f"{p['codes_text'] or 'no code'} (dated {p['date_of_service']})")


def _entries(c: dict[str, Any]) -> Section:
    rows = [(str(e["id"]), f"{e['staff']['name']} ({e['staff']['role']})", _text(e["start"]),
             _text(e["end"]), _seconds(e["seconds"]), _seconds(e["counted_seconds"])
             + (f" - not counted: {'; '.join(e['not_counted_reasons'])}"
                if e["not_counted_reasons"] else ""),
             e["activity"] + (" (live)" if e["live_interaction"] else ""),
             e["source"] + (" clock-timed" if e["clock_timed"] else " estimated"),
             _text(e["note"], "-"), _text(e["call_note"], "-"),
             f"{e['logged']} by {_who(e['logged_by'])}"
             + (f"; amendment: {e['amendment_reason']}" if e["amendment_reason"] else ""))
            for e in c["entries"]]
    return Section("Time entries (clinic time)", table=Table(
        ("#", "Who", "Start", "End", "Seconds", "Counted", "Activity", "Source", "Note",
         "Call note", "Logged"), rows, "no entries"))


def _legs_text(legs: Iterable[dict[str, Any]]) -> str:
    return " | ".join(
        f"{leg['call_sid']} {leg['direction'] or '?'} {leg['from'] or '?'} -> {leg['to'] or '?'}"
        f" {leg['status']} answered by {leg['answered_by'] or '-'}"
        f" {_text(leg['duration_seconds'], '?')} s" for leg in legs)


def _live(c: dict[str, Any]) -> Section:
    rows = []
    for item in c["live_interactions"]:
        evidence = item["evidence"]
        proof = (_legs_text(evidence["legs"]) if item["how"] == "captured call" else
                 f"marked by {_who(evidence['marked_by'])} at {evidence['marked_at']} "
                 f"({evidence['activity']}, {evidence['source']})")
        counts = "yes" if item["counts"] else f"no: {_text(item['why_not'], '-')}"
        by = item["by"]
        rows.append((str(item["entry_id"]), _text(item["at"]), _with(item["with"]),
                     f"{by['name']} ({by['role']})", item["how"], proof, counts))
    return Section("Live interactions and their evidence", table=Table(
        ("Entry", "When", "With", "By", "How", "Evidence", "Counts"), rows, "none"))


def _calls(c: dict[str, Any]) -> Section:
    rows = [(leg["call_sid"], _text(leg["parent_call_sid"], "-"), _text(leg["direction"], "-"),
             f"{_text(leg['from'], '-')} -> {_text(leg['to'], '-')}", leg["status"],
             _text(leg["answered_by"], "-"), _text(leg["duration_seconds"], "-"),
             _text(leg["started"], "-"), leg["state"], _text(leg["entry_id"], "-"))
            for leg in c["calls"]]
    return Section("Calls (every leg, numbers masked)", table=Table(
        ("CallSid", "Parent", "Direction", "Numbers", "Status", "Answered by", "Seconds",
         "Started", "State", "Entry"), rows, "no captured calls"))


def _voided(c: dict[str, Any]) -> Section:
    rows = [(str(v["id"]), v["staff"]["name"], _text(v["start"]), _seconds(v["seconds"]),
             v["activity"], _who(v["voided_by"]), _text(v["voided_at"]), _text(v["reason"]),
             _text(v["amendment_reason"], "-")) for v in c["voided"]]
    return Section("Voided entries", table=Table(
        ("#", "Who", "Start", "Seconds", "Activity", "Voided by", "When", "Why", "Amendment"),
        rows, "none"))


def _amendments(c: dict[str, Any]) -> Section:
    rows = [(a["kind"], _text(a["entry_id"], "-"), _who(a["by"]), _text(a["at"], "-"),
             _text(a["reason"]) + (f" ({_text(a.get('fields'))})" if a.get("fields") else ""))
            for a in c["amendments"]]
    return Section("Amendments", table=Table(("Kind", "Entry", "By", "When", "Reason"), rows,
                                             "none"))


def _signed(item: dict[str, Any], key: str) -> str:
    """A close's author as every screen names them (service.closes.signed): "Bea Billing
    (UBIL0001)" from format v4 on, which records the name; the id or text alone before."""
    return staff_label(str(item[key]), item.get(f"{key}_name"))


def _closes(c: dict[str, Any]) -> Section:
    rows = [(e["action"], _text(e["at"]), _signed(e, "by"), _text(e["reason"], "-"),
             _text(e["record"], "-"), _text(e["audit_head"], "-")) for e in c["close_history"]]
    return Section("Month close record", table=Table(
        ("Action", "When", "By", "Reason", "Record", "Audit trail head at close"), rows,
        "the month has never been closed"))


def _printing(c: dict[str, Any]) -> Section:
    printed = c.get("printed") or {}
    head = printed.get("audit_trail_head")
    return Section("Audit trail", [
        ("Printed", _text(printed.get("at"))),
        ("Audit trail head when printed",
         f"record #{head['id']}, hash {head['hash']}" if head else "no record yet"),
    ])


def sections(content: dict[str, Any]) -> list[Section]:
    """What a packet prints, in order: the one definition both formats render (a part an
    older format lacks is left out: the device section from v6 on)."""
    found = [part(content) for part in (_patient, _month, _devices, _entries, _live, _calls,
                                        _voided, _amendments, _closes, _printing)]
    return [section for section in found if section is not None]


def _devices(c: dict[str, Any]) -> Section | None:
    """The device half of the claim (format v6 on): the periods with a day in the month,
    each counted reading day with its count and source; never a reading's values."""
    d = c["month"].get("devices")
    if d is None:
        return None
    periods = "; ".join(_period(p) for p in d["periods"])
    pairs = [("Device codes dated in the month", d["codes_text"] or "none"),
             ("Device periods", periods or "none (no reading counts)"),
             ("Device rule", d["rule"])]
    if not d["days"]:  # no table: its "none" line would read as a third column in a PDF
        return Section("Device readings (clinic days)",
                       [*pairs, ("Counted reading days", "none")])
    return Section("Device readings (clinic days)", pairs, Table(
        ("Day", "Readings", "Source"),
        [(day["day"], str(day["readings"]), ", ".join(day["sources"])) for day in d["days"]]))


def dashboard_path(patient_id: str, month: str) -> str:
    """Where the dashboard serves a packet (web/routes.py), for its page and Slack's link."""
    return f"/patients/{quote(patient_id, safe='')}/packet?month={quote(month, safe='')}"


def title(content: dict[str, Any]) -> str:
    """"P-1042 (JD), 2026-10": whose month the packet is."""
    p = content["patient"]
    who = f"{p['patient_id']} ({p['initials']})" if p["initials"] else p["patient_id"]
    return f"{who}, {content['month']['month']}"


def subtitle(content: dict[str, Any]) -> str:
    """When and in which format the packet was printed."""
    return (f"Printed {_text((content.get('printed') or {}).get('at'))} by rpm-logger "
            f"({content['format']}).")


# -- HTML ----------------------------------------------------------------------------------

def _script_safe(text: str) -> str:
    """JSON that cannot end its <script> element early; json.loads reads it back as is."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def html(packet: Packet) -> str:
    content = packet.content
    return _env.get_template("packet.html").render(
        title=title(content), digest=packet.digest, sections=sections(content),
        subtitle=subtitle(content), how_to_verify=HOW_TO_VERIFY,
        data=Markup(_script_safe(packet.canonical)))


# -- PDF -----------------------------------------------------------------------------------

def pdf(packet: Packet) -> bytes:
    """The packet as a PDF, laid out as its content's format prints one
    (presentation/packet_pdf.py). fpdf takes ~0.3 s to import: only a PDF pays it."""
    from presentation.packet_pdf import pdf as laid_out

    return laid_out(packet)


# -- reading a printed packet back -----------------------------------------------------------

@dataclass(frozen=True)
class Reading:
    """A printed packet read back: its content and whether the file is as printed."""

    content: dict[str, Any]
    kind: str  # html | pdf
    intact: bool
    problem: str = ""


_DATA_OPENING = '<script type="application/json" id="packet-data">'
_DATA_CLOSING = "</script>"
# A literal prefix and a bounded match: one pass over the text, whatever it holds.
_DIGEST = re.compile(r'<meta name="packet-sha256" content="([0-9a-f]{64})">')


def read(data: bytes) -> Reading:
    """A packet file (HTML or PDF) read back and checked against itself: the printed digest
    must be the SHA-256 of the embedded content, and rendering that content again must give
    the file byte for byte (any edit to the printed text shows). Reading takes time linear
    in the file's size, which is bounded (MAX_PACKET_BYTES)."""
    if len(data) > MAX_PACKET_BYTES:
        raise NotAPacket(f"it is larger than {MAX_PACKET_BYTES // 2**20} MiB, more than any "
                         "packet prints (MAX_PACKET_BYTES); it was not read")
    if data.startswith(b"%PDF"):
        content, digest = _read_pdf(data)
        kind = "pdf"
    else:
        content, digest = _read_html(data)
        kind = "html"
    if content.get("format") not in FORMATS:  # another version renders it: not "edited"
        raise NotAPacket(f"it was printed as {str(content.get('format'))[:60]!r}; this "
                         "rpm-logger verifies " + ", ".join(repr(f) for f in FORMATS)
                         + " (use the version that printed it)")
    packet = Packet(content)
    if digest != packet.digest:
        return Reading(content, kind, False, "the printed SHA-256 is not the digest of the "
                       "embedded content")
    try:
        again = pdf(packet) if kind == "pdf" else html(packet).encode()
    except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
        # a digest anyone can compute, over content this program never printed
        raise NotAPacket("the embedded content lacks or mistypes a part every packet has "
                         f"({type(exc).__name__}): it was not printed by rpm-logger") from exc
    if again.rstrip(b"\n") != data.rstrip(b"\n"):
        return Reading(content, kind, False, "the file differs from the packet its own "
                       "content prints (its printed text was edited)")
    return Reading(content, kind, True)


_TOO_DEEP = (f"the embedded packet content nests deeper than {MAX_CONTENT_DEPTH} levels "
             "(MAX_CONTENT_DEPTH); a packet never does")


def _loads(text: str) -> dict[str, Any]:
    """The embedded content as a JSON object no deeper than a packet's: json.loads recurses
    once per level, so a crafted `[[[[...` is a RecursionError, refused like any other
    content that is not a packet's (and so is one shallow enough to load but deeper than
    any packet, before anything walks it recursively)."""
    try:
        content = json.loads(text)
    except RecursionError as exc:
        raise NotAPacket(_TOO_DEEP) from exc
    except ValueError as exc:
        raise NotAPacket(f"the embedded packet content is not JSON ({exc})") from exc
    if not isinstance(content, dict):
        raise NotAPacket("the embedded packet content is not a JSON object")
    if not _nests_within(content, MAX_CONTENT_DEPTH):
        raise NotAPacket(_TOO_DEEP)
    return content


def _nests_within(value: Any, limit: int) -> bool:
    """Whether `value` nests at most `limit` objects and arrays deep, walked without
    recursion (a walk that recursed would fail where json.loads just managed)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return False
        pending.extend((child, depth + 1) for child in children)
    return True


def _embedded_text(text: str) -> str | None:
    """What the first packet-data `<script>` holds, up to the first `</script>` after it:
    what the regex `<script ...>(.*?)</script>` found, in one forward scan. That regex
    started over from every opening tag and scanned to the end for want of a closing one:
    quadratic, 200,000 unclosed tags (10 MB) took hours of CPU (bench/RESULTS.md)."""
    start = text.find(_DATA_OPENING)
    if start < 0:
        return None
    start += len(_DATA_OPENING)
    end = text.find(_DATA_CLOSING, start)
    return None if end < 0 else text[start:end]


def _read_html(data: bytes) -> tuple[dict[str, Any], str]:
    text = data.decode("utf-8", errors="replace")
    embedded, digest = _embedded_text(text), _DIGEST.search(text)
    if embedded is None or digest is None:
        raise NotAPacket("no embedded packet content (an HTML packet carries it in "
                         '<script id="packet-data">)')
    return _loads(embedded), digest.group(1)


@contextmanager
def _pypdf_quiet() -> Iterator[None]:
    """pypdf reports what it repairs in a damaged file on its logger and as warnings; the
    user of `--verify` must see only our one clear error, so both are muted while it reads
    (and restored after: nothing else in the process is silenced)."""
    logger = logging.getLogger("pypdf")
    level, logger.level = logger.level, logging.CRITICAL + 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _read_pdf(data: bytes) -> tuple[dict[str, Any], str]:
    from pypdf import PdfReader

    try:
        with _pypdf_quiet():
            reader = PdfReader(io.BytesIO(data))
            attached = reader.attachments.get(ATTACHMENT) or []
            subject = str(reader.metadata.get("/Subject") or "") if reader.metadata else ""
    except Exception as exc:  # noqa: BLE001 - a damaged file may fail anywhere in pypdf
        raise NotAPacket(f"the PDF cannot be read ({exc})") from exc
    if not attached or not subject.startswith("SHA-256 "):
        raise NotAPacket(f"no embedded packet content (a PDF packet attaches {ATTACHMENT})")
    return _loads(attached[0].decode("utf-8", errors="replace")), subject.removeprefix(
        "SHA-256 ")


__all__ = ["ATTACHMENT", "MAX_CONTENT_DEPTH", "MAX_PACKET_BYTES", "NotAPacket", "Reading",
           "canonical_json", "html", "pdf", "read", "sections", "subtitle", "title"]
