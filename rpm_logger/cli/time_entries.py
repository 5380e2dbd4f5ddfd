"""`rpm-logger log`, `void`, `status` and `entries`: time entries and a patient's month."""


import click

from billing.durations import duration_word_count
from billing.errors import quoted
from presentation import render
from rpm_logger.cli.common import (
    Exit,
    amendment_of,
    at_time,
    current_service,
    handled,
    may_create_database,
    month_or_current,
    operator_name,
)
from rpm_logger.cli.root import cli
from service.entries import LogRequest


class LogCommand(click.Command):
    """`log`: click reads a negative duration ('-5m') as an unknown option; say instead that
    the duration is refused (time is never negative: a mistake is voided)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        given = list(args)  # the parser consumes `args`
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            negative = next((a for a in given if a[:2] in {f"-{d}" for d in "0123456789"}), None)
            if negative is None:
                raise
            raise click.UsageError(
                f"Cannot log a negative duration ({quoted(negative)}): log the time done, "
                "e.g. 5m; to take time back, void the entry.", ctx) from exc



def _split_duration(duration: str, activity: str,
                    note: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]]:
    """`log P-1042 12 mins review`: the shell split the duration; join it back as the Slack
    grammar does (same rule: billing.durations.duration_word_count)."""
    words = (duration, activity, *note)
    if duration_word_count(words) != 2:
        return duration, activity, note
    if len(words) < 3:
        raise Exit(f"Which activity? {quoted(f'{duration} {activity}')} is the duration.", 2)
    return f"{duration} {activity}", words[2], words[3:]


@cli.command("log", cls=LogCommand)
@click.argument("patient_id")
@click.argument("duration")
@click.argument("activity")
@click.argument("note", nargs=-1)
@click.option("--staff", "staff_id", required=True, help="Slack user id of who did the work.")
@click.option("--at", "at", default=None, help="Start time, ISO 8601 (default: ends now).")
@click.option("--live", is_flag=True, help="A live audio/video interaction (calls always are).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--amend", default=None, metavar="REASON",
              help="Amend a closed month (the operator's amendment, with its reason).")
@handled
@may_create_database
def log_time(patient_id: str, duration: str, activity: str, note: tuple[str, ...],
             staff_id: str, at: str | None, live: bool, as_json: bool,
             amend: str | None) -> None:
    """Log treatment-management time for a patient."""
    duration, activity, note = _split_duration(duration, activity, note)
    request = LogRequest(patient=patient_id, duration=duration, activity=activity,
                         staff=staff_id, source="cli", note=" ".join(note) or None,
                         started_at=at_time(at), live=live, amendment=amendment_of(amend),
                         before_inactive=True)
    # the staff member performed the service; the operator running the CLI entered it
    logged = current_service().entries.log(request, actor=operator_name(None))
    if as_json:
        click.echo(render.as_json({
            "id": logged.entry.id, "patient_id": logged.entry.patient_id,
            "duration_seconds": logged.entry.duration_seconds,
            "activity": logged.entry.activity, "live": logged.entry.counts_live,
            "started_at": logged.entry.started_at.isoformat(),
            "overlaps_entry_id": logged.entry.overlaps_entry_id,
            "time_counts": logged.time_counts, "month": logged.summary.as_json(),
        }))
    else:
        click.echo(logged.entry.id)
        click.echo(render.logged_text(logged, current_service().ctx.policy.zone), err=True)


@cli.command("void")
@click.argument("entry_id")
@click.option("--reason", required=True)
@click.option("--staff", "staff_id", required=True, help="Slack user id of who voids it.")
@click.option("--amend", is_flag=True,
              help="The entry's month is closed: void it as the operator's amendment.")
@handled
def void_entry(entry_id: str, reason: str, staff_id: str, amend: bool) -> None:
    """Void an entry (it stays on record with who, when and why)."""
    entry = current_service().entries.void(entry_id, reason=reason, by=staff_id,
                                           amendment=amendment_of(reason) if amend else None)
    click.echo(f"voided entry #{entry.id}")


@cli.command("status")
@click.argument("patient_id")
@click.option("--month", default=None, help="YYYY-MM (default: this month, clinic zone).")
@click.option("--json", "as_json", is_flag=True)
@handled
def status(patient_id: str, month: str | None, as_json: bool) -> None:
    """One patient's month: time, live contact, codes, what is missing."""
    service = current_service()
    summary = service.months.summary(patient_id, month_or_current(month))
    click.echo(render.as_json(summary.as_json()) if as_json
               else render.summary_text(summary, service.ctx.policy.zone))


@cli.command("entries")
@click.argument("patient_id")
@click.option("--month", default=None, help="YYYY-MM (default: this month, clinic zone).")
@handled
def entries(patient_id: str, month: str | None) -> None:
    """Every entry of a patient's month, voided ones included."""
    service = current_service()
    for entry in service.entries.for_patient_month(patient_id, month_or_current(month)):
        click.echo(render.entry_text(entry, service.ctx.policy.zone))
