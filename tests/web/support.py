"""Shared pieces of the web tests: seeded data, an HTML reader, the app on a real server."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser

from service import Service
from service.patients import PatientFields
from tests.loopback import free_port, served  # noqa: F401 - shared with web tests
from tests.service.helpers import DOCTOR, NURSE, log, seed
from tests.snapshots import seeded

TOKEN = "correct horse battery staple, stapled twice"
RAW_PHONE_DIGITS = ("6175550123", "6175550124", "555-0123", "555-0124", "555 0123",
                    "6175550101")


def seed_month(svc: Service) -> dict[str, int]:
    """The web month, built through the service once per test process and copied after that
    (tests/snapshots.py)."""
    return seeded(svc, "the web month", _seed_month)


def _seed_month(svc: Service) -> dict[str, int]:
    """Four patients in November 2026 (the clock is 2026-11-20 15:00 in New York):
    P-1042 (nurse's) 99457, P-2001 (doctor's) 99457+99458, P-2002 (nurse's) 4 min and no
    live contact, P-3003 (doctor's) no consent and nothing logged. Returns entry ids."""
    seed(svc)
    svc.patients.add("P-2001", PatientFields(initials="AB", assign=DOCTOR,
                                             consent_on=date(2026, 9, 1)), actor="test")
    svc.patients.add("P-2002", PatientFields(initials="CK", assign=NURSE,
                                             consent_on=date(2026, 9, 2)), actor="test")
    svc.patients.add("P-3003", PatientFields(initials="EF", assign=DOCTOR,
                                             enrolled_on=date(2026, 11, 1)), actor="test")
    ids = {
        "call": log(svc, "12m", "call", started_at=datetime(2026, 11, 3, 15, tzinfo=UTC)),
        "review": log(svc, "9m", started_at=datetime(2026, 11, 10, 15, tzinfo=UTC),
                      note="left a message at (617) 555-0123"),
        "wrong": log(svc, "30m", started_at=datetime(2026, 11, 12, 15, tzinfo=UTC)),
        "p2001_call": log(svc, "25m", "call", patient="P-2001", staff=DOCTOR,
                          started_at=datetime(2026, 11, 5, 15, tzinfo=UTC)),
        "p2001_review": log(svc, "22m", patient="P-2001", staff=DOCTOR,
                            started_at=datetime(2026, 11, 15, 15, tzinfo=UTC)),
        "p2002": log(svc, "4m", patient="P-2002",
                     started_at=datetime(2026, 11, 18, 15, tzinfo=UTC)),
    }
    svc.entries.void(ids["wrong"], reason="logged for the wrong patient, caller 617-555-0124",
                     by=NURSE)
    return ids


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: list[str] = field(default_factory=list)

    @property
    def content(self) -> str:
        return " ".join("".join(self.text).split())


class Page(HTMLParser):
    """Every element with its attributes and text (nested text counts for each ancestor)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self._open: list[Element] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in ("meta", "input", "br", "img", "link", "line", "polyline"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[Element]:
        """Elements of `tag` whose attributes include `attrs` (class matches one class)."""
        return [e for e in self.elements
                if e.tag == tag and all(_matches(e, k, v) for k, v in attrs.items())]

    def one(self, tag: str, **attrs: str) -> Element:
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}>"
        return found[0]


def _matches(element: Element, key: str, value: str) -> bool:
    name = key.rstrip("_").replace("_", "-")
    if name == "class":
        return value in element.attrs.get("class", "").split()
    return element.attrs.get(name) == value
