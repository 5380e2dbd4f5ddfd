"""Which patients may miss 99457 this month, and how badly (pure; see docs/at-risk.md).

Reminders and the Slack `/rpm risk` list both judge patients here, so a staff member never
sees two different verdicts for the same patient on the same day.
"""

from dataclasses import dataclass
from datetime import date

from billing.codes import TEN_MINUTES, TWENTY_MINUTES, rule_set_for
from billing.months import Month

# A typical treatment-management touch (a data review, a short call) is about 5 minutes.
TYPICAL_TOUCH_SECONDS = 5 * 60
# More than 10 minutes for one patient in one day is unusual; beyond it 20 minutes is
# treated as out of reach.
MAX_SECONDS_PER_DAY = 10 * 60
LAST_DAYS = 3  # in the last 3 days anything missing is critical
LIVE_URGENT_DAYS = 7  # a missing live contact is at least "high" in the last week

OK, WATCH, HIGH, CRITICAL = "ok", "watch", "high", "critical"
SEVERITY_ORDER = {CRITICAL: 0, HIGH: 1, WATCH: 2, OK: 3}


@dataclass(frozen=True)
class PatientWindow:
    """The days of the month the patient is enrolled in (their own dates, if any)."""

    first: date
    last: date

    @classmethod
    def of(cls, month: Month, enrolled_on: date | None, ended_on: date | None) -> "PatientWindow":
        first = max(month.first_day, enrolled_on) if enrolled_on else month.first_day
        last = min(month.last_day, ended_on) if ended_on else month.last_day
        return cls(first, max(first, last))

    def days_left(self, today: date) -> int:
        """Days still available for work, today included."""
        if today > self.last:
            return 0
        return (self.last - max(today, self.first)).days + 1


@dataclass(frozen=True)
class RiskAssessment:
    severity: str
    seconds_needed: int
    needs_live: bool
    days_left: int
    touches_needed: int
    short_code_possible: bool  # 20 minutes is out of reach but 99470 (10 minutes) is not

    @property
    def at_risk(self) -> bool:
        return self.severity != OK

    @property
    def minutes_needed(self) -> int:
        """Whole minutes still to do, rounded up: understating what is needed would mislead."""
        return -(-self.seconds_needed // 60)

    def advice(self) -> str:
        """'needs 8 more minutes and a live call' as a reminder reads it."""
        if not self.at_risk:
            return "on track: 20 minutes and a live contact are in"
        parts = []
        if self.seconds_needed:
            plural = "s" if self.minutes_needed != 1 else ""
            parts.append(f"{self.minutes_needed} more minute{plural}")
        if self.needs_live:
            parts.append("a live call")
        text = "needs " + " and ".join(parts)
        if self.days_left == 0:
            text += " (no days left)"
        if self.short_code_possible:
            text += "; 20 minutes is out of reach, 99470 (10 minutes) is still possible"
        return text


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
        return RiskAssessment(OK, 0, False, left, 0, False)
    rules = rule_set_for(month)
    reachable = needed <= left * MAX_SECONDS_PER_DAY
    short_needed = max(TEN_MINUTES - counted_seconds, 0)
    short_possible = bool(
        rules and rules.short_code_seconds and not reachable
        and short_needed <= left * MAX_SECONDS_PER_DAY and left > 0
    )
    if left <= LAST_DAYS or touches >= left or not reachable:
        severity = CRITICAL
    elif touches * 2 >= left or (needs_live and left <= LIVE_URGENT_DAYS):
        severity = HIGH
    else:
        severity = WATCH
    return RiskAssessment(severity, needed, needs_live, left, touches, short_possible)
