"""The `rpm-logger` command: parse options, call one service function, render.

Exit status: 0 done, 2 refused input (nothing changed), 1 failure (e.g. database down);
`audit verify`: 5 the audit trail or an entry was changed behind the service's back.
"""

import getpass
import sys
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from billing.digits import ONLY_ASCII_DIGITS, digits_value, has_other_digits
from billing.durations import duration_word_count
from billing.errors import InvalidInput, quoted
from billing.months import Month, clinic_time
from configuration.settings import Settings, get_settings
from presentation import packet as packet_render
from presentation import render
from rpm_logger import files
from service import Service
from service.closes import Amendment
from service.context import Clock
from service.entries import LogRequest
from service.errors import SaveUnconfirmed, StoreConflict, StoreUnavailable
from service.patients import PatientFields
from service.staff import StaffChanges
from service.views import StaffView, staff_label
from store import logsafe
from store.archive import Header

F = TypeVar("F", bound=Callable[..., Any])


class _DateType(click.ParamType):
    """A calendar date typed as YYYY-MM-DD, refused with that hint otherwise."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{quoted(str(value))} is not a date: use YYYY-MM-DD, e.g. 2026-11-03.",
                      param, ctx)


DATE = _DateType()


class _WholeNumber(click.ParamType):
    """A whole number in 0-9 digits within [low, high]: click's int takes '８０００' and
    '٨٠٠٠' (Python's int() reads any script's digits), the one digits rule does not."""

    name = "INTEGER"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        number = digits_value(text)
        if number is None:
            why = ONLY_ASCII_DIGITS if has_other_digits(text) else "not a whole number"
            self.fail(f"{quoted(str(value))}: {why}.", param, ctx)
        if not self.low <= number <= self.high:
            self.fail(f"{number} is not between {self.low} and {self.high}.", param, ctx)
        return number


class _LogCommand(click.Command):
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


class _Exit(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                             for e in exc.errors())
        raise _Exit(f"invalid configuration: {problems}", 2) from exc


def _service() -> Service:
    from rpm_logger.wiring import build_service

    ctx = click.get_current_context()
    root = ctx.find_root()
    if "service" not in root.meta:
        root.meta["service"] = build_service(_settings(), clock=root.obj)
    return root.meta["service"]


def _operator(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _month(text: str | None) -> Month:
    return Month.parse(text) if text else _service().months.current()


def _at(text: str | None) -> datetime | None:
    """--at as ISO 8601; without a zone it is read in the clinic zone."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(f"Cannot read --at {quoted(text)}: use ISO 8601 such as "
                           "2026-11-03T14:30 or 2026-11-03T14:30-05:00.") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=_service().ctx.policy.zone)
    return value


def _amendment(reason: str | None) -> Amendment | None:
    """The CLI runs as the clinic's operator, who may amend a closed month with a reason."""
    if reason is None:
        return None
    return Amendment(reason=reason, by=_operator(None), operator=True)


def handled(func: F) -> F:
    """Turn service refusals and failures into stderr messages and exit codes."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InvalidInput as exc:
            raise _Exit(str(exc), 2) from exc
        except StoreConflict as exc:
            raise _Exit(str(exc), 1) from exc
        except SaveUnconfirmed as exc:
            raise _Exit(f"{exc}; check (`rpm-logger entries`, `month show`) before running "
                        "it again", 1) from exc
        except StoreUnavailable as exc:
            raise _Exit(f"{exc}; nothing was saved", 1) from exc

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rpm-logger", prog_name="rpm-logger",
                      message="%(prog)s %(version)s")
def cli() -> None:
    """Log RPM treatment-management time and see which CPT codes each month supports."""
    logsafe.install()  # no database error reaches a log with the values it was about


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=_WholeNumber(1, 65535))
def serve(host: str, port: int) -> None:
    """Run the web service (Slack, Twilio and health routes)."""
    import uvicorn

    from observability import logs
    from rpm_logger.app import create_app

    settings = _settings()
    # every line in LOG_FORMAT through the root handler, uvicorn's too (no log config of its
    # own); the app writes the access lines (route template, status, duration, request id)
    logs.configure(settings.log_format, settings.log_level)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower(),
                log_config=None, access_log=False)


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@handled
def db_upgrade() -> None:
    """Bring the database to the newest schema."""
    from rpm_logger.wiring import open_database

    database = open_database(_settings())
    click.echo(f"database at newest schema ({database.dialect})")


@cli.group()
def staff() -> None:
    """Add and change staff."""


@staff.command("add")
@click.argument("slack_user_id")
@click.option("--name", required=True)
@click.option("--role", required=True, help="physician|qhp|clinical_staff|non_clinical")
@click.option("--phone", "phones", multiple=True, help="Phone number (repeatable).")
@click.option("--npi", default=None, help="10-digit NPI (physicians and QHPs).")
@click.option("--admin", is_flag=True, default=False)
@click.option("--by", default=None, help="Who is making the change (audit).")
@handled
def staff_add(slack_user_id: str, name: str, role: str, phones: tuple[str, ...],
              npi: str | None, admin: bool, by: str | None) -> None:
    """Add a staff member by Slack user id."""
    view = _service().staff.add(slack_user_id=slack_user_id, name=name, role=role,
                                phones=phones, npi=npi, is_admin=admin, actor=_operator(by))
    click.echo(f"added {render.staff_text(view, _service().ctx.policy.zone)}")


@staff.command("update")
@click.argument("slack_user_id")
@click.option("--name", default=None)
@click.option("--role", default=None)
@click.option("--phone", "phones", multiple=True)
@click.option("--remove-phone", "remove_phones", multiple=True)
@click.option("--twilio-number", "twilio_numbers", multiple=True,
              help="Clinic Twilio number assigned to them (calls to it are theirs).")
@click.option("--twilio-client", default=None,
              help="Twilio Client identity (client:NAME); '' clears it.")
@click.option("--npi", default=None)
@click.option("--admin/--no-admin", default=None)
@click.option("--inactive", "active", flag_value=False, default=None,
              help="Deactivate: they can no longer log; their entries keep counting.")
@click.option("--active", "active", flag_value=True, help="Reactivate.")
@click.option("--voice-pin", default=None,
              help="Voice menu PIN, 4-8 digits; '-' asks at a hidden prompt; '' removes it. "
                   "Clears a voice lock.")
@click.option("--voice-unlock", is_flag=True, default=False,
              help="Lift a wrong-PIN voice lock.")
@click.option("--by", default=None)
@handled
def staff_update(slack_user_id: str, name: str | None, role: str | None,
                 phones: tuple[str, ...], remove_phones: tuple[str, ...],
                 twilio_numbers: tuple[str, ...], twilio_client: str | None, npi: str | None,
                 admin: bool | None, active: bool | None, voice_pin: str | None,
                 voice_unlock: bool, by: str | None) -> None:
    """Change a staff member's role, phones, Twilio number/client, admin flag, activity or
    voice access."""
    changes = StaffChanges(name=name, role=role, npi=npi, is_admin=admin, active=active,
                           add_phones=phones, remove_phones=remove_phones,
                           add_twilio_numbers=twilio_numbers, twilio_client=twilio_client)
    if voice_pin is not None or voice_unlock:
        if changes != StaffChanges():
            raise _Exit("--voice-pin and --voice-unlock change voice access only: run the "
                        "other changes as their own `staff update`; nothing changed", 2)
        view = _voice_access_update(slack_user_id, voice_pin, by)
    else:
        view = _service().staff.update(slack_user_id, changes, actor=_operator(by))
    click.echo(f"updated {render.staff_text(view, _service().ctx.policy.zone)}")


def _voice_access_update(slack_user_id: str, voice_pin: str | None,
                         by: str | None) -> StaffView:
    """A new PIN (which also lifts a lock) or only the unlock; '-' reads the PIN at a hidden
    prompt, typed twice, so it is never in the shell's history or the process list."""
    if voice_pin is None:
        return _service().voice_access.unlock(slack_user_id, actor=_operator(by))
    if voice_pin == "-":
        if not _interactive():
            raise _Exit("no terminal to type the voice PIN on: nothing changed", 2)
        voice_pin = click.prompt("Voice PIN (4-8 digits)", hide_input=True,
                                 confirmation_prompt=True, err=True)
    return _service().voice_access.set_pin(slack_user_id, voice_pin, actor=_operator(by))


@staff.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="Include inactive staff.")
@handled
def staff_list(include_inactive: bool) -> None:
    """List staff."""
    service = _service()
    for view in service.staff.list(include_inactive=include_inactive):
        click.echo(render.staff_text(view, service.ctx.policy.zone))


def _patient_options(func: F) -> F:
    options = [
        click.option("--initials", default=None),
        click.option("--phone", "phones", multiple=True, help="Patient phone (repeatable)."),
        click.option("--caregiver-phone", "caregiver_phones", multiple=True),
        click.option("--assign", default=None, help="Slack user id of the assigned staff."),
        click.option("--consent", type=DATE, default=None, help="Consent date YYYY-MM-DD."),
        click.option("--condition", "conditions", multiple=True, help="ICD-10 (repeatable)."),
        click.option("--provider", default=None, help="Slack user id of the billing provider."),
        click.option("--enrolled", type=DATE, default=None, help="Enrolment date YYYY-MM-DD."),
        click.option("--ordered-by", default=None,
                     help="Slack user id of the physician/QHP who ordered the monitoring."),
        click.option("--order-date", type=DATE, default=None, help="Order date YYYY-MM-DD."),
        click.option("--last-visit", type=DATE, default=None,
                     help="Last established-patient visit YYYY-MM-DD."),
        click.option("--by", default=None, help="Who is making the change (audit)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _fields(opts: dict[str, Any], remove_phones: tuple[str, ...] = ()) -> PatientFields:
    return PatientFields(
        initials=opts["initials"], phones=opts["phones"],
        caregiver_phones=opts["caregiver_phones"], remove_phones=remove_phones,
        assign=opts["assign"], consent_on=opts["consent"],
        conditions=opts["conditions"], provider=opts["provider"],
        enrolled_on=opts["enrolled"], ordered_by=opts["ordered_by"],
        order_on=opts["order_date"], last_visit_on=opts["last_visit"],
    )


@cli.group()
def patient() -> None:
    """Enrol, change and end patients."""


@patient.command("add")
@click.argument("patient_id")
@_patient_options
@handled
def patient_add(patient_id: str, **opts: Any) -> None:
    """Enrol a patient under their clinic id."""
    view = _service().patients.add(patient_id, _fields(opts), actor=_operator(opts["by"]))
    click.echo(f"added patient {view.label}")


_AMEND_WINDOW = click.option(
    "--amend", default=None, metavar="REASON",
    help="The change moves days of a closed month in or out of the enrolment window or "
         "consent: the operator's amendment, with its reason.")


@patient.command("update")
@click.argument("patient_id")
@_patient_options
@click.option("--remove-phone", "remove_phones", multiple=True)
@_AMEND_WINDOW
@handled
def patient_update(patient_id: str, remove_phones: tuple[str, ...], amend: str | None,
                   **opts: Any) -> None:
    """Change a patient's details; phones and conditions are added, --remove-phone drops."""
    view = _service().patients.update(patient_id, _fields(opts, remove_phones),
                                      actor=_operator(opts["by"]),
                                      amendment=_amendment(amend))
    click.echo(f"updated patient {view.label}")


@patient.command("end")
@click.argument("patient_id")
@click.option("--on", "on", type=DATE, default=None, help="Last day (default today).")
@click.option("--by", default=None)
@_AMEND_WINDOW
@click.option("--yes", is_flag=True,
              help="End without asking when time logged after the end date stops counting.")
@handled
def patient_end(patient_id: str, on: date | None, by: str | None, amend: str | None,
                yes: bool) -> None:
    """End a patient's monitoring. Time logged after the end date stops counting: that is
    shown first and needs a confirmation (or --yes)."""
    service = _service()
    preview = service.patients.end_preview(patient_id, on=on)
    if preview.entries and (amend or not preview.closed_months):  # else the end refuses
        click.echo(render.end_preview_text(preview), err=True)
        _confirmed(f"End {preview.patient} on {preview.ended_on}?", yes)
    view = service.patients.end(patient_id, on=on, actor=_operator(by),
                                amendment=_amendment(amend))
    click.echo(f"patient {view.label} ended on {view.ended_on}")


@patient.command("enrol")
@click.argument("patient_id")
@click.option("--on", "on", type=DATE, required=True,
              help="First day of the new episode (after the last one ended).")
@click.option("--by", default=None, help="Who is making the change (audit).")
@_AMEND_WINDOW
@handled
def patient_enrol(patient_id: str, on: date, by: str | None, amend: str | None) -> None:
    """Enrol a patient again after their enrolment ended: a new episode from --on. The
    earlier episodes keep their own days; the days between count for nothing."""
    view = _service().patients.enrol(patient_id, on=on, actor=_operator(by),
                                     amendment=_amendment(amend))
    click.echo(f"patient {view.label} enrolled again on {view.enrolled_on}")


@patient.command("show")
@click.argument("patient_id")
@handled
def patient_show(patient_id: str) -> None:
    """Show a patient (phones are counted, never printed)."""
    click.echo(render.patient_text(_service().patients.get(patient_id)))


@patient.command("list")
@click.option("--assigned-to", default=None, help="Only this staff member's patients.")
@handled
def patient_list(assigned_to: str | None) -> None:
    """List patients."""
    for view in _service().patients.list(assigned_to=assigned_to):
        click.echo(f"{view.label}  assigned to {view.assigned_to or 'nobody'}")


def _split_duration(duration: str, activity: str,
                    note: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]]:
    """`log P-1042 12 mins review`: the shell split the duration; join it back as the Slack
    grammar does (same rule: billing.durations.duration_word_count)."""
    words = (duration, activity, *note)
    if duration_word_count(words) != 2:
        return duration, activity, note
    if len(words) < 3:
        raise _Exit(f"Which activity? {quoted(f'{duration} {activity}')} is the duration.", 2)
    return f"{duration} {activity}", words[2], words[3:]


@cli.command("log", cls=_LogCommand)
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
def log_time(patient_id: str, duration: str, activity: str, note: tuple[str, ...],
             staff_id: str, at: str | None, live: bool, as_json: bool,
             amend: str | None) -> None:
    """Log treatment-management time for a patient."""
    duration, activity, note = _split_duration(duration, activity, note)
    request = LogRequest(patient=patient_id, duration=duration, activity=activity,
                         staff=staff_id, source="cli", note=" ".join(note) or None,
                         started_at=_at(at), live=live, amendment=_amendment(amend))
    # the staff member performed the service; the operator running the CLI entered it
    logged = _service().entries.log(request, actor=_operator(None))
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
        click.echo(render.logged_text(logged, _service().ctx.policy.zone), err=True)


@cli.command("void")
@click.argument("entry_id")
@click.option("--reason", required=True)
@click.option("--staff", "staff_id", required=True, help="Slack user id of who voids it.")
@click.option("--amend", is_flag=True,
              help="The entry's month is closed: void it as the operator's amendment.")
@handled
def void_entry(entry_id: str, reason: str, staff_id: str, amend: bool) -> None:
    """Void an entry (it stays on record with who, when and why)."""
    entry = _service().entries.void(entry_id, reason=reason, by=staff_id,
                                    amendment=_amendment(reason) if amend else None)
    click.echo(f"voided entry #{entry.id}")


@cli.command("status")
@click.argument("patient_id")
@click.option("--month", default=None, help="YYYY-MM (default: this month, clinic zone).")
@click.option("--json", "as_json", is_flag=True)
@handled
def status(patient_id: str, month: str | None, as_json: bool) -> None:
    """One patient's month: time, live contact, codes, what is missing."""
    service = _service()
    summary = service.months.summary(patient_id, _month(month))
    click.echo(render.as_json(summary.as_json()) if as_json
               else render.summary_text(summary, service.ctx.policy.zone))


@cli.command("entries")
@click.argument("patient_id")
@click.option("--month", default=None, help="YYYY-MM (default: this month, clinic zone).")
@handled
def entries(patient_id: str, month: str | None) -> None:
    """Every entry of a patient's month, voided ones included."""
    service = _service()
    for entry in service.entries.for_patient_month(patient_id, _month(month)):
        click.echo(render.entry_text(entry, service.ctx.policy.zone))


@cli.command("report")
@click.option("--month", default=None, help="YYYY-MM (default: this month, clinic zone).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)
@click.option("--summary", "summary_only", is_flag=True,
              help="Only the month's totals (codes, dollars, at risk, closed).")
@handled
def report(month: str | None, fmt: str, summary_only: bool) -> None:
    """Every enrolled patient's month (one row each), or with --summary the month's totals."""
    if summary_only and fmt == "csv":
        raise click.UsageError("--summary prints the totals as a table or JSON, not CSV: "
                               "use --format table or json (or drop --summary for the "
                               "per-patient CSV).")
    chosen = _month(month)
    service = _service()
    if summary_only:
        totals = service.months.totals(chosen)
        click.echo(render.as_json(totals.as_json()) if fmt == "json"
                   else render.totals_text(totals))
        return
    if fmt == "csv":  # streamed: written row by row as the database hands them over
        render.write_report_csv(service.months.report_rows(chosen),
                                click.get_text_stream("stdout"))
        return
    if fmt == "json":
        click.echo(render.as_json([s.as_json() for s in service.months.report(chosen)]))
    else:  # the rows and their totals line from one read
        summaries, totals = service.months.report_file(chosen, lambda rows: list(rows))
        click.echo(render.report_table(summaries, totals))


@cli.command("export")
@click.option("--month", default=None, help="YYYY-MM (default: this month, clinic zone).")
@handled
def export(month: str | None) -> None:
    """Every entry of the month as CSV for auditors, voided ones included."""
    service = _service()
    entries = service.entries.for_month(_month(month))
    click.echo(render.export_csv(entries, service.ctx.policy.zone,
                                 region=service.ctx.policy.phone_region), nl=False)


@cli.group("month")
def month_group() -> None:
    """Close a billed month, reopen a mistaken close, show a month's closes."""


def _interactive() -> bool:
    """Whether a person can answer a question here (stdin is a terminal)."""
    return sys.stdin.isatty()


def _confirmed(question: str, yes: bool) -> None:
    """Go on with --yes or a "yes" typed on a terminal; otherwise exit 2, nothing changed."""
    if yes:
        return
    if not _interactive():
        raise _Exit("no terminal to confirm on: nothing changed (pass --yes to confirm)", 2)
    if not click.confirm(question, default=False, err=True):
        raise _Exit("not confirmed: nothing changed", 2)


@month_group.command("close")
@click.argument("month")
@click.option("--by", default=None, help="Who closes it (audit); default the operator.")
@click.option("--yes", is_flag=True, help="Close without asking (scripts).")
@handled
def month_close(month: str, by: str | None, yes: bool) -> None:
    """Lock MONTH (YYYY-MM) once billed: later changes need an admin amendment.

    Says first what it locks (patients, codes, dollars) and asks on a terminal."""
    chosen = Month.parse(month)
    service = _service()
    click.echo(render.close_preview_text(service.closes.preview(chosen)), err=True)
    _confirmed(f"Close {chosen}?", yes)
    closed = service.closes.close(chosen, by=_operator(by))
    click.echo(f"closed {closed.month} by {closed.closed_by}: "
               f"{render.close_figures(closed)}")


@month_group.command("reopen")
@click.argument("month")
@click.option("--reason", required=True, help="Why the close is undone (audit).")
@click.option("--billed/--not-billed", "billed", default=None,
              help="Required: whether the close's claims were sent. A billed month is "
                   "normally amended, not reopened (log or void with --amend).")
@click.option("--by", default=None, help="Who reopens it (audit); default the operator.")
@click.option("--yes", is_flag=True, help="Reopen without asking (scripts).")
@handled
def month_reopen(month: str, reason: str, billed: bool | None, by: str | None,
                 yes: bool) -> None:
    """Undo a close of MONTH: it takes writes again; the close stays on record."""
    chosen = Month.parse(month)
    if billed is None:
        raise _Exit(f"Say whether {chosen}'s claims were sent: --billed or --not-billed. "
                    + render.REOPEN_ADVICE, 2)
    service = _service()
    closed = service.closes.to_reopen(chosen)
    click.echo(f"{chosen} was closed on {clinic_time(closed.closed_at, service.ctx.policy.zone)}"
               f" by {closed.closed_by}: "
               f"{render.close_figures(closed)}", err=True)
    if billed:
        click.echo(render.REOPEN_ADVICE, err=True)
    _confirmed(f"Reopen {chosen} ({'billed' if billed else 'not billed'})?", yes)
    view = service.closes.reopen(chosen, reason=reason, by=_operator(by), billed=billed)
    click.echo(f"reopened {view.month} by {view.closed_by}: {view.reason} "
               f"({render.reopen_billed_text(view.billed)})")


@month_group.command("show")
@click.argument("month")
@handled
def month_show(month: str) -> None:
    """Whether MONTH is closed, and every close and reopen of it."""
    chosen = Month.parse(month)
    service = _service()
    zone = service.ctx.policy.zone
    closed = service.closes.get(chosen)
    click.echo(f"{chosen}: closed on {clinic_time(closed.closed_at, zone)} by {closed.closed_by}"
               if closed else f"{chosen}: open")
    for view in service.closes.history(chosen):
        click.echo(render.close_event_text(view, zone))


@cli.command("remind")
@click.option("--date", "day", type=DATE, default=None,
              help="The reminder date, YYYY-MM-DD (default: today, clinic zone).")
@click.option("--dry-run", is_flag=True, help="Show who would be told what; send nothing.")
@click.option("--json", "as_json", is_flag=True)
@handled
def remind(day: date | None, dry_run: bool, as_json: bool) -> None:
    """Run the at-risk reminder job now (each message at most once per recipient and day)."""
    from reminders import messages
    from reminders.job import run_by_hand

    settings = _settings()
    if not dry_run and not settings.slack_bot_token:
        raise _Exit("Slack is not configured: set SLACK_BOT_TOKEN to send reminders "
                    "(or use --dry-run to see them)", 2)
    run = run_by_hand(_service(), settings, day, dry_run=dry_run, actor=_operator(None))
    click.echo(render.as_json(messages.run_json(run)) if as_json else messages.run_text(run))
    if run.failed:
        raise _Exit(f"{len(run.failed)} reminder(s) failed; the scheduler retries them later "
                    "today, or run `rpm-logger remind` again", 1)


@cli.group()
def calls() -> None:
    """Twilio calls: reconcile, unmatched and unclaimed calls, attach, claim."""


CALL_HEADER = "call\tstarted\tstate\tpatient\tstaff\tseconds\tnumbers\twhy"


def _call_line(view: Any) -> str:
    """One call: when in clinic time with the zone (numbers masked)."""
    who = view.patient.label if view.patient else "unmatched"
    seconds = view.duration_seconds if view.duration_seconds is not None else "-"
    when = clinic_time(view.started_at, _service().ctx.policy.zone)
    why = view.why or "-"  # why it does not count (unmatched, leg, short, voided, ...)
    return (f"{view.call_id}\t{when}\t{view.shown_state}\t{who}\t"
            f"{_staff_named(view)}\t{seconds}s\t{view.from_masked} -> {view.to_masked}"
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
        outcomes = reconcile(_service(), _settings(), parse_since(since))
    except TwilioUnavailable as exc:
        raise _Exit(f"{exc}; nothing was stored", 1) from exc
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
    for view in _service().calls.in_states(states):
        click.echo(_call_line(view))


@calls.command("attach")
@click.argument("call_id")
@click.argument("patient_id")
@click.option("--staff", "staff_id", required=True, help="Slack user id of the admin.")
@handled
def calls_attach(call_id: str, patient_id: str, staff_id: str) -> None:
    """Attach an unmatched call to a patient (admins)."""
    click.echo(_call_line(_service().calls.attach(call_id, patient_id, by=staff_id).call))


@calls.command("claim")
@click.argument("call_id")
@click.option("--staff", "staff_id", required=True, help="Slack user id of who made the call.")
@handled
def calls_claim(call_id: str, staff_id: str) -> None:
    """Claim a call no staff member could be matched to."""
    click.echo(_call_line(_service().calls.claim(call_id, by=staff_id).call))


@cli.group()
def audit() -> None:
    """What an auditor asks for: the audit trail, the practice's own checks, packets."""


TRAIL_BROKEN = 5  # `audit verify` found a change the service did not make


@audit.command("verify")
@click.option("--head", "head", default=None, metavar="HASH",
              help="A chain head printed before (a packet's, a close's): must still be on it.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of lines.")
@handled
def audit_verify(head: str | None, as_json: bool) -> None:
    """Walk the hash-chained audit trail and cross-check every time entry against it."""
    report = _service().audit_trail.verify(head)
    click.echo(render.trail_json(report) if as_json else "\n".join(render.trail_lines(report)))
    if not report.clean:
        raise _Exit(report.findings[0].message, TRAIL_BROKEN)


# ---------------------------------------------------------------------------------------


@audit.command("checks")
@click.option("--month", default=None, help="YYYY-MM (default: this month, clinic zone).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--fail-on-findings", is_flag=True,
              help="Exit 1 when there is any finding (CI, cron); default exit 0 either way.")
@handled
def audit_checks(month: str | None, fmt: str, fail_on_findings: bool) -> None:
    """The practice's own screen of MONTH for what an auditor looks for (docs/audit.md)."""
    checks = _service().audit_checks.run(_month(month))
    if fmt == "json":
        click.echo(render.as_json([f.as_json() for f in checks.findings]))
    elif fmt == "csv":
        click.echo(render.findings_csv(checks.findings), nl=False)
    else:
        click.echo(render.findings_table(checks))
    if fail_on_findings and checks.findings:
        raise _Exit(render.findings_count(checks.counts()), 1)


# ---------------------------------------------------------------------------------------


# audit packet: the per patient-month packet (issue 16, part 1).

EXIT_PACKET_EDITED = 3
EXIT_STORE_CHANGED = 4


@audit.command("packet")
@click.argument("patient_id", required=False)
@click.option("--month", default=None, help="YYYY-MM (needed unless --verify).")
@click.option("--format", "fmt", type=click.Choice(["html", "pdf"]), default="html",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=True, writable=True), default=None,
              help="File to write (a folder with --all); HTML goes to stdout without it. "
                   "An existing file is refused unless --force.")
@click.option("--force", is_flag=True,
              help="Replace an existing packet file: a regular file only, never a symbolic "
                   "link or the database.")
@click.option("--all", "every", is_flag=True, help="One packet per billable patient.")
@click.option("--verify", "verify_file", type=click.Path(exists=True, dir_okay=False),
              default=None, help="Check a printed packet (HTML or PDF): exit 3 when the file "
                                 "was edited, 4 when the records changed since printing.")
@handled
def audit_packet(patient_id: str | None, month: str | None, fmt: str, out: str | None,
                 force: bool, every: bool, verify_file: str | None) -> None:
    """An auditor's packet for one patient's month: who, when, how long, what, the live
    contact and its evidence, the order, consent, codes, close, with its SHA-256."""
    if force and out is None:
        raise InvalidInput("--force replaces the --out file: give --out FILE (a folder with "
                           "--all).")
    if verify_file is not None:
        _verify_packet(Path(verify_file), patient_id, month)
    elif every:
        _all_packets(month, fmt, out, force)
    else:
        _one_packet(patient_id, month, fmt, out, force)


def _one_packet(patient_id: str | None, month: str | None, fmt: str, out: str | None,
                force: bool) -> None:
    if patient_id is None or month is None:
        raise InvalidInput("Give PATIENT_ID and --month YYYY-MM (or --all, or --verify FILE).")
    if fmt == "pdf" and out is None:
        raise InvalidInput("A PDF needs --out FILE.")
    if out is not None:
        _refuse_to_replace(Path(out), force)  # before the service: a refusal changes nothing
    made = _service().audit_packets.packet(patient_id, Month.parse(month))
    if out is None:
        click.echo(packet_render.html(made), nl=False)
        return
    _write_packet(Path(out), _packet_bytes(made, fmt), force)
    click.echo(f"wrote {out} (SHA-256 {made.digest})", err=True)


# Packet files (rpm_logger/files.py): never through a symbolic link, never over the database,
# an existing file only with --force, owner-only.

_PACKET = "a packet"


def _refuse_to_replace(path: Path, force: bool, what: str = _PACKET,
                       folder_note: str = " (a folder is for --all)") -> None:
    from rpm_logger.wiring import database_files

    files.refuse_to_replace(path, force, what=what, protected=database_files(_settings()),
                            folder_note=folder_note)


def _write_packet(path: Path, data: bytes, replace: bool) -> None:
    files.write_file(path, lambda file: file.write(data), replace=replace, what=_PACKET)


def _packet_bytes(made: Any, fmt: str) -> bytes:
    return packet_render.pdf(made) if fmt == "pdf" else packet_render.html(made).encode()


def _all_packets(month: str | None, fmt: str, out: str | None, force: bool) -> None:
    if month is None or out is None:
        raise InvalidInput("--all needs --month YYYY-MM and --out DIR.")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"--out {quoted(out)} is a file: --all writes into a folder.")
    packets = _service().audit_packets.billable(Month.parse(month))
    paths = [folder / f"packet-{made.patient_id}-{made.month}.{fmt}" for made in packets]
    for path in paths:  # every name checked before the first packet is written
        _refuse_to_replace(path, force)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create {quoted(out)}: {exc.strerror or exc}") from exc
    for made, path in zip(packets, paths, strict=True):
        _write_packet(path, _packet_bytes(made, fmt), force)
        click.echo(f"{path}\t{made.digest}")
    click.echo(f"{len(packets)} packets for {month} in {folder}", err=True)


def _verify_packet(path: Path, patient_id: str | None, month: str | None) -> None:
    try:
        reading = packet_render.read(_packet_file(path))
    except packet_render.NotAPacket as exc:
        raise InvalidInput(f"{path}: {exc}") from exc
    if not reading.intact:
        raise _Exit(f"{path} was edited: {reading.problem}", EXIT_PACKET_EDITED)
    check = _service().audit_packets.verify(reading.content, patient_ref=patient_id,
                                            month=Month.parse(month) if month else None)
    if check.changes:
        lines = "\n".join(f"  {change}" for change in check.changes)
        raise _Exit(f"{path}: the records of {check.patient_id} {check.month} changed since "
                    f"it was printed:\n{lines}", EXIT_STORE_CHANGED)
    click.echo(f"{path}: intact, and the records of {check.patient_id} {check.month} are as "
               "printed")


def _packet_file(path: Path) -> bytes:
    """The file's bytes, read no further than one past the largest packet (a 10 GB file, or
    /dev/zero, is refused by `packet.read` without being read whole), or a one-line reason
    (no permission) instead of a traceback."""
    try:
        with path.open("rb") as file:
            return file.read(packet_render.MAX_PACKET_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(f"cannot read {files.shown(path)}: {exc.strerror or exc}") from exc


# ---------------------------------------------------------------------------------------


# backup and restore (issue 23, part 2; docs/deploy.md "Backup and restore").


@cli.command("backup")
@click.option("--out", required=True, metavar="FILE",
              help="The archive to write (owner-only); an existing file is refused unless "
                   "--force.")
@click.option("--force", is_flag=True,
              help="Replace an existing archive: a regular file only, never a symbolic link "
                   "or the database.")
@handled
def backup(out: str, force: bool) -> None:
    """Every table in one snapshot, into one self-describing archive, while the service
    keeps writing."""
    path = Path(out)
    _refuse_to_replace(path, force, "a backup", folder_note="")
    made = files.write_file(path, _service().backups.take, replace=force, what="a backup")
    click.echo(f"backup {out}: {_contents(made.header)}; SHA-256 {made.sha256}")


@cli.command("restore")
@click.argument("file")
@click.option("--yes", is_flag=True, help="Restore without asking (scripts).")
@handled
def restore(file: str, yes: bool) -> None:
    """Restore an archive into an empty database (SQLite or PostgreSQL, migrated or not),
    all or nothing; refused while a service runs on it."""
    from rpm_logger.wiring import redacted_database_url, restore_target
    from service import backups

    path = Path(file)
    archive = backups.read_archive(lambda: _archive_file(path))
    settings = _settings()
    if not yes and _interactive():  # what the question is about; a script's refusal stays one line
        click.echo(f"{file}: a backup of {archive.header.created_at} from "
                   f"{archive.header.database}: {_contents(archive.header)}", err=True)
    _confirmed(f"Restore it into {redacted_database_url(settings)}?", yes)
    with restore_target(settings) as database:
        restored = backups.restore(database, archive)
    click.echo(f"restored {file}: {_contents(restored.header, restored.upgraded_to)}")


def _contents(header: Header, upgraded_to: str | None = None) -> str:
    """An archive's header in words: rows, tables, schema, the audit chain's head."""
    head = (f"audit head #{header.audit_head[0]} {header.audit_head[1]}"
            if header.audit_head else "no audit records")
    upgraded = f" (upgraded to {upgraded_to})" if upgraded_to else ""
    return (f"{header.row_count:,} rows in {len(header.tables)} tables, schema "
            f"{header.schema}{upgraded}, {head}")


def _archive_file(path: Path) -> Any:
    """The archive opened for reading, or a one-line reason (missing, a folder, no
    permission) instead of a traceback."""
    try:
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        return path.open("rb")
    except OSError as exc:
        raise InvalidInput(f"cannot read {files.shown(path)}: {exc.strerror or exc}; nothing "
                           "was restored") from exc


# ---------------------------------------------------------------------------------------


def main(clock: Clock | None = None) -> None:
    """Console entry point. `clock` is for tests that run the CLI in-process at a frozen
    instant (the console script always runs on the real clock)."""
    try:
        cli.main(standalone_mode=False, obj=clock)
    except _Exit as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
