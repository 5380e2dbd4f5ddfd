"""`rpm-logger calls`: reconcile with Twilio, list, attach and claim calls."""

from typing import Any

import click

from billing.months import clinic_time
from rpm_logger.cli.common import Exit, current_service, current_settings, handled
from rpm_logger.cli.root import cli
from service.views import staff_label


@cli.group()
def calls() -> None:
    """Twilio calls: reconcile, unmatched and unclaimed calls, attach, claim."""


CALL_HEADER = "call\tstarted\tstate\tpatient\tstaff\tseconds\tnumbers\twhy"


def _call_line(view: Any) -> str:
    """One call: when in clinic time with the zone (numbers masked)."""
    who = view.patient.label if view.patient else "unmatched"
    # a call still in progress has no duration yet: "-", not "-s"
    seconds = f"{view.duration_seconds}s" if view.duration_seconds is not None else "-"
    when = clinic_time(view.started_at, current_service().ctx.policy.zone)
    why = view.why or "-"  # why it does not count (unmatched, leg, short, voided, ...)
    return (f"{view.call_id}\t{when}\t{view.shown_state}\t{who}\t"
            f"{_staff_named(view)}\t{seconds}\t{view.from_masked} -> {view.to_masked}"
            f"\t{why}")


def _staff_named(view: Any) -> str:
    """'Nina Nurse (U01NURSE)', as every screen outside Slack names staff."""
    return staff_label(str(view.staff), view.staff_name) if view.staff else "no staff"


@calls.command("reconcile")
@click.option("--since", default="24h", show_default=True, help="How far back: 24h, 2d, 90m.")
@handled
def calls_reconcile(since: str) -> None:
    """List recent calls through the Twilio REST API; store any the webhooks missed."""
    from telephony.rest import TwilioUnavailable, parse_since, reconcile

    try:
        outcomes = reconcile(current_service(), current_settings(), parse_since(since))
    except TwilioUnavailable as exc:
        raise Exit(f"{exc}; nothing was stored", 1) from exc
    new = [o for o in outcomes if o.previous_state is None]
    changed = [o for o in outcomes if o.changed and o.previous_state is not None]
    for outcome in new + changed:
        click.echo(_call_line(outcome.call))
    click.echo(f"{len(outcomes)} calls listed, {len(new)} new, {len(changed)} updated",
               err=True)


@calls.command("list")
@click.option("--state", "states", multiple=True,
              help="unmatched, unclaimed, unconfirmed, counted, voided (counted, then its "
                   "entry voided), after_close, attempt, ... (repeatable)")
@handled
def calls_list(states: tuple[str, ...]) -> None:
    """Calls, newest first (numbers masked), under a header row."""
    click.echo(CALL_HEADER)
    for view in current_service().calls.in_states(states):
        click.echo(_call_line(view))


@calls.command("attach")
@click.argument("call_id")
@click.argument("patient_id")
@click.option("--staff", "staff_id", required=True, help="Slack user id of the admin.")
@handled
def calls_attach(call_id: str, patient_id: str, staff_id: str) -> None:
    """Attach an unmatched call to a patient (admins)."""
    click.echo(_call_line(current_service().calls.attach(call_id, patient_id, by=staff_id).call))


@calls.command("claim")
@click.argument("call_id")
@click.option("--staff", "staff_id", required=True, help="Slack user id of who made the call.")
@handled
def calls_claim(call_id: str, staff_id: str) -> None:
    """Claim a call no staff member could be matched to."""
    click.echo(_call_line(current_service().calls.claim(call_id, by=staff_id).call))
