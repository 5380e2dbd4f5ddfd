"""Which patients may miss 99457 this month, and how badly (pure; see docs/at-risk.md).

Reminders and the Slack `/rpm risk` list both judge patients here, so a staff member never
sees two different verdicts for the same patient on the same day.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from billing.codes import CPT_99457, CPT_99470, TWENTY_MINUTES, rule_set_for
from billing.months import Month
from billing.programme import Enrolment

# A typical treatment-management touch (a data review, a short call) is about 5 minutes.
# Pace (touches against days left) sets the severity; it never makes a code unreachable:
# 20 minutes fit in one day, so 99457 is within reach as long as a day remains.
TYPICAL_TOUCH_SECONDS = 5 * 60
LAST_DAYS = 3  # in the last 3 days anything missing is critical
LIVE_URGENT_DAYS = 7  # a missing live contact is at least "high" in the last week

OK, WATCH, HIGH, CRITICAL = "ok", "watch", "high", "critical"
SEVERITY_ORDER = {CRITICAL: 0, HIGH: 1, WATCH: 2, OK: 3}


@dataclass(frozen=True)
class PatientWindow:
    """The days of the month the patient is enrolled in (their own dates, if any): `first`
    to `last`, less the days between two enrolment episodes (`gaps`)."""

    first: date
    last: date
    gaps: tuple[tuple[date, date], ...] = ()  # (first, last) days in no episode

    @classmethod
    def of(cls, month: Month, enrolled_on: date | None, ended_on: date | None) -> "PatientWindow":
        first = max(month.first_day, enrolled_on) if enrolled_on else month.first_day
        last = min(month.last_day, ended_on) if ended_on else month.last_day
        return cls(first, max(first, last))

    @classmethod
    def over(cls, month: Month, enrolment: Enrolment) -> "PatientWindow":
        """The month's days inside any of the patient's episodes (billing.programme)."""
        spans = enrolment.days_in(month)
        if not spans:  # not in the month's programme: the latest episode's, as before
            return cls.of(month, enrolment.current.enrolled_on, enrolment.current.ended_on)
        gaps = tuple((a_last + timedelta(days=1), b_first - timedelta(days=1))
                     for (_, a_last), (b_first, _) in zip(spans, spans[1:], strict=False)
                     if b_first > a_last + timedelta(days=1))
        return cls(spans[0][0], spans[-1][1], gaps)

    def days_left(self, today: date) -> int:
        """Days still available for work, today included."""
        if today > self.last:
            return 0
        start = max(today, self.first)
        left = (self.last - start).days + 1
        for gap_first, gap_last in self.gaps:
            low, high = max(gap_first, start), gap_last
            if high >= low:
                left -= (high - low).days + 1
        return max(left, 0)


@dataclass(frozen=True)
class RiskAssessment:
    severity: str
    seconds_needed: int
    needs_live: bool
    days_left: int
    touches_needed: int
    reachable_code: str | None  # the highest code the month can still reach (docs/at-risk.md)
    short_code_in: bool = False  # 99470 (10 minutes with a live contact) is already supported

    @property
    def at_risk(self) -> bool:
        return self.severity != OK

    @property
    def still_to_win(self) -> bool:
        """At risk with a day left to act: what every "at risk" count and list means (the
        dashboard card, `--summary`, `/rpm risk`, reminders). A window that has ended wins
        nothing more; its row says what it missed (`advice`)."""
        return self.at_risk and self.days_left > 0

    @property
    def minutes_needed(self) -> int:
        """Whole minutes still to do, rounded up: understating what is needed would mislead."""
        return -(-self.seconds_needed // 60)

    def advice(self) -> str:
        """'needs 8 more minutes and a live call' as a reminder reads it, pointing at the
        highest code still reachable: 99457 while a day remains, even on the last day. A
        window that has ended says what it earned or missed, never "on track"."""
        if not self.at_risk:
            done = "earned" if self.days_left == 0 else "on track"
            return f"{done}: 20 minutes and a live contact are in"
        if self.days_left == 0:
            return self._missed()
        text = "needs " + self._shortfall("{n} more minute{s}", "a live call")
        if self.short_code_in:
            text += f" for {CPT_99457} ({CPT_99470} is in)"
        return text

    def _shortfall(self, minutes: str, live: str) -> str:
        """What is missing in words: `minutes` with the count and plural filled in, and
        `live` when the live contact is missing."""
        parts = []
        if self.seconds_needed:
            count = self.minutes_needed
            parts.append(minutes.format(n=count, s="s" if count != 1 else ""))
        if self.needs_live:
            parts.append(live)
        return " and ".join(parts)

    def _missed(self) -> str:
        """What an ended window missed, not advice to act on (nothing can be logged into it
        any more, as the CLI's "nothing: the month has ended" says): 'missed 99457: 8 minutes
        short (the month supports 99470)'."""
        missed = self._shortfall("{n} minute{s} short", "no live call")
        supports = (f" (the month supports {self.reachable_code})"
                    if self.reachable_code else "")
        return f"missed {CPT_99457}: {missed}{supports}"


def _touches(seconds_needed: int, needs_live: bool) -> int:
    touches = -(-seconds_needed // TYPICAL_TOUCH_SECONDS)
    return max(touches, 1) if needs_live else touches


def assess_risk(
    month: Month, window: PatientWindow, today: date, *, counted_seconds: int, has_live: bool
) -> RiskAssessment:
    """Severity from pace: touches still needed against days left in the patient's window."""
    needed = max(TWENTY_MINUTES - counted_seconds, 0)
    needs_live = not has_live
    left = window.days_left(today)
    touches = _touches(needed, needs_live)
    if not needed and not needs_live:
        return RiskAssessment(OK, 0, False, left, 0, CPT_99457)
    rules = rule_set_for(month)
    short_in = bool(rules and rules.short_code_seconds and has_live
                    and counted_seconds >= rules.short_code_seconds)
    reachable = CPT_99457 if left > 0 else (CPT_99470 if short_in else None)
    if left <= LAST_DAYS or touches >= left:
        severity = CRITICAL
    elif touches * 2 >= left or (needs_live and left <= LIVE_URGENT_DAYS):
        severity = HIGH
    else:
        severity = WATCH
    return RiskAssessment(severity, needed, needs_live, left, touches, reachable, short_in)
