"""Which CPT codes a month of treatment-management time supports.

The rules are effective-dated data: each code has its first (and, once retired, last) valid
month in CODE_RULES, so a change in the rules (2026 added 99470) is a new row, not new code.
Sources and the choices made where sources disagree: docs/billing-rules.md.
"""

from dataclasses import dataclass
from functools import lru_cache

from billing.months import Month

CPT_99457 = "99457"  # first 20 minutes, needs a live interaction
CPT_99458 = "99458"  # each additional full 20 minutes
CPT_99470 = "99470"  # 2026+: first 10 minutes (10-19), never with 99457

TWENTY_MINUTES = 1200
TEN_MINUTES = 600

# Roles whose time may furnish RPM treatment management (incident-to under supervision).
ROLES_THAT_COUNT = frozenset({"physician", "qhp", "clinical_staff"})
ALL_ROLES = ("physician", "qhp", "clinical_staff", "non_clinical")
PROVIDER_ROLES = frozenset({"physician", "qhp"})


@dataclass(frozen=True)
class CodeRule:
    """One code: the seconds it needs and the months in which it may be billed.

    `last_month` None: still valid. The table below is the one place a code's life is kept;
    the rule set of any month is derived from it (docs/billing-rules.md, "Rule table").
    """

    code: str
    seconds: int
    first_month: Month
    last_month: Month | None = None

    def valid_in(self, month: Month) -> bool:
        return self.first_month <= month and (self.last_month is None or month <= self.last_month)


# CY2019 PFS created 99457 alone; CY2020 PFS created 99458 as its add-on; CY2026 PFS added
# 99470 (10-19 minutes).
CODE_RULES: tuple[CodeRule, ...] = (
    CodeRule(CPT_99457, TWENTY_MINUTES, first_month=Month(2019, 1)),
    CodeRule(CPT_99458, TWENTY_MINUTES, first_month=Month(2020, 1)),
    CodeRule(CPT_99470, TEN_MINUTES, first_month=Month(2026, 1)),
)


@dataclass(frozen=True)
class RuleSet:
    """The thresholds in force in one month (derived from the code table)."""

    first_code_seconds: int = TWENTY_MINUTES
    add_on_seconds: int | None = TWENTY_MINUTES  # None: no 99458 in this period
    short_code_seconds: int | None = None  # None: no 10-minute code in this period


@lru_cache(maxsize=256)  # a month scan asks once per patient for the same month
def rule_set_for(month: Month,
                 code_rules: tuple[CodeRule, ...] = CODE_RULES) -> RuleSet | None:
    """The rules in force in `month`, or None while 99457 (the first code) is not valid."""
    valid = {rule.code: rule.seconds for rule in code_rules if rule.valid_in(month)}
    if CPT_99457 not in valid:
        return None
    return RuleSet(first_code_seconds=valid[CPT_99457], add_on_seconds=valid.get(CPT_99458),
                   short_code_seconds=valid.get(CPT_99470))


def valid_months(code: str, code_rules: tuple[CodeRule, ...] = CODE_RULES
                 ) -> tuple[Month, Month | None]:
    """(first, last) month in which `code` may be billed; last None: still valid."""
    for rule in code_rules:
        if rule.code == code:
            return rule.first_month, rule.last_month
    raise KeyError(code)


@dataclass(frozen=True)
class CodeUnits:
    code: str
    units: int


@dataclass(frozen=True)
class MonthActivity:
    """What the month holds, as counted by the store: only time that may count."""

    counted_seconds: int
    live_interactions: int


@dataclass(frozen=True)
class MonthAssessment:
    """The codes a month supports and what the next code still needs."""

    codes: tuple[CodeUnits, ...]
    next_code: str | None
    seconds_to_next_code: int | None
    needs_live_interaction: bool

    def units_of(self, code: str) -> int:
        return sum(c.units for c in self.codes if c.code == code)


def _time_codes(seconds: int, rules: RuleSet, max_add_on_units: int) -> list[CodeUnits]:
    """Codes the time alone reaches, before the live-interaction requirement."""
    if seconds >= rules.first_code_seconds:
        codes = [CodeUnits(CPT_99457, 1)]
        if rules.add_on_seconds is None:
            return codes
        add_ons = min((seconds - rules.first_code_seconds) // rules.add_on_seconds,
                      max_add_on_units)
        if add_ons > 0:
            codes.append(CodeUnits(CPT_99458, add_ons))
        return codes
    if rules.short_code_seconds is not None and seconds >= rules.short_code_seconds:
        return [CodeUnits(CPT_99470, 1)]
    return []


def _next_step(seconds: int, rules: RuleSet, max_add_on_units: int) -> tuple[str, int] | None:
    """The next code time could reach and the seconds it still needs (0 if reached)."""
    if rules.short_code_seconds is not None and seconds < rules.short_code_seconds:
        return CPT_99470, rules.short_code_seconds - seconds
    if seconds < rules.first_code_seconds:
        return CPT_99457, rules.first_code_seconds - seconds
    if rules.add_on_seconds is None:
        return None
    units = (seconds - rules.first_code_seconds) // rules.add_on_seconds
    if units >= max_add_on_units:
        return None
    target = rules.first_code_seconds + (units + 1) * rules.add_on_seconds
    return CPT_99458, target - seconds


def assess_month(
    month: Month, activity: MonthActivity, *, max_add_on_units: int
) -> MonthAssessment:
    """Codes supported by a month's counted seconds and live interactions.

    Without a live interaction no code is supported at all; the next code then is the first
    one the time reaches (seconds_to_next_code may be 0) and needs_live_interaction says why.
    """
    seconds = max(activity.counted_seconds, 0)
    has_live = activity.live_interactions > 0
    rules = rule_set_for(month)
    if rules is None:
        return MonthAssessment((), None, None, not has_live)
    reached = _time_codes(seconds, rules, max_add_on_units)
    if not has_live:
        first = reached[0].code if reached else None
        step = (first, 0) if first else _next_step(seconds, rules, max_add_on_units)
        code, needed = step if step else (None, None)
        return MonthAssessment((), code, needed, True)
    step = _next_step(seconds, rules, max_add_on_units)
    code, needed = step if step else (None, None)
    return MonthAssessment(tuple(reached), code, needed, False)


def format_codes(codes: tuple[CodeUnits, ...]) -> str:
    """'99457;99458x2' as billing offices write it; '' for none."""
    return ";".join(c.code if c.units == 1 else f"{c.code}x{c.units}" for c in codes)


def codes_in_words(codes: tuple[CodeUnits, ...]) -> str:
    """'99457 + 99458 ×2' as people read them in chat; '' for none (CSV keeps format_codes)."""
    return " + ".join(c.code if c.units == 1 else f"{c.code} ×{c.units}" for c in codes)
