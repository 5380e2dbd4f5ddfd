"""A patient's month in one plain sentence: what Slack shows under the bar ("Still needed")
and what the voice menu says after a save. Here, in the service, so both adapters say the
same thing without one importing the other."""

from collections.abc import Callable

from billing.codes import format_codes
from billing.durations import format_seconds
from billing.months import Month
from service.views import MonthSummary

SecondsText = Callable[[int], str]


def still_needed(summary: MonthSummary, seconds_text: SecondsText = format_seconds) -> str:
    """What the month still needs before its next code, in words: the one copy of this advice
    (the CLI status, the report, every Slack month line and the voice menu use it). It names
    the code the time reaches (99470 needs 10 minutes, not 20) and the live interaction every
    code needs."""
    if summary.month_ended:  # nothing more can be logged into it: no advice, but why
        if summary.needs_live_interaction and summary.total_seconds:
            return ("nothing: the month has ended without a live interaction, so its time "
                    "supports no code")
        if (summary.in_programme and not summary.codes and summary.next_code
                and summary.seconds_to_next_code):
            return (f"nothing: the month has ended {seconds_text(summary.seconds_to_next_code)}"
                    f" short of {summary.next_code}")
        return "nothing: the month has ended"
    parts = []
    if summary.next_code and summary.seconds_to_next_code:
        parts.append(f"{seconds_text(summary.seconds_to_next_code)} more for "
                     f"{summary.next_code}")
    if summary.needs_live_interaction:
        parts.append("a live interaction (call or video)")
    if not parts:
        return "nothing: the month is at its cap" if not summary.next_code else "nothing"
    return " and ".join(parts)


def why_no_code(summary: MonthSummary) -> str | None:
    """Why a month in the programme supports no code, from its records alone (a packet says
    it, and what it says must not change with the day it is verified on); None when it
    supports one or has no time."""
    if summary.codes or not summary.in_programme or not summary.total_seconds:
        return None
    if not summary.live_interactions:
        return (f"no live interaction in the month: its {format_seconds(summary.total_seconds)}"
                " support no code without one")
    if summary.next_code and summary.seconds_to_next_code:
        return (f"{format_seconds(summary.seconds_to_next_code)} short of "
                f"{summary.next_code}")
    return None


def month_sentence(summary: MonthSummary, seconds_text: SecondsText = format_seconds) -> str:
    """'32 min this month, live contact done, 99457 reached. Still needed: nothing.'.
    Minutes are floored (format_seconds), never rounded up."""
    live = "live contact done" if summary.live_interactions else "no live contact yet"
    codes = format_codes(summary.codes)
    reached = f"{codes.replace(';', ' and ')} reached" if codes else "no code reached yet"
    return (f"{seconds_text(summary.total_seconds)} this month, {live}, {reached}. "
            f"Still needed: {still_needed(summary, seconds_text)}.")


def device_words(summary: MonthSummary) -> str:
    """The month's device period in words (the one copy: status, report, Slack, dashboard,
    reminders): its counted reading days (`device_days`: up to the month's last day, today
    while it runs), its span and its verdict on today (billing.devices.period_verdict: the
    reading days the best code still reachable needs by the period's end, or that it ended
    and what it earned); a past month's period that ran on past it says so (its codes are a
    later month's); "no readings" when the patient has none that count."""
    period = summary.current_device_period
    verdict = summary.device_verdict
    if period is None or verdict is None:
        return "no readings"
    count = summary.device_days
    days = f"{count} reading day{'s' if count != 1 else ''}"
    span = f"period {period.start} to {period.end}"
    last = Month.parse(summary.month).last_day
    if summary.month_ended and period.end > last:
        return f"{days} by {last} ({span}; its codes are {period.month}'s)"
    if verdict.ended:
        return f"{span} {verdict.advice()}"
    got = f", {verdict.code} so far" if verdict.aim is not None and verdict.code else ""
    return f"{days} ({span}){got}: {verdict.advice()}"
