"""`rpm-logger patient`: enrol, change, end, enrol again, show and list patients."""

from datetime import date
from typing import Any

import click

from presentation import render
from rpm_logger.cli.common import (
    DATE,
    F,
    amendment_of,
    confirmed,
    current_service,
    handled,
    may_create_database,
    operator_name,
)
from rpm_logger.cli.root import cli
from service.patients import PatientFields


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
@may_create_database
def patient_add(patient_id: str, **opts: Any) -> None:
    """Enrol a patient under their clinic id."""
    view = current_service().patients.add(patient_id, _fields(opts),
                                          actor=operator_name(opts["by"]))
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
    view = current_service().patients.update(patient_id, _fields(opts, remove_phones),
                                             actor=operator_name(opts["by"]),
                                             amendment=amendment_of(amend))
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
    service = current_service()
    preview = service.patients.end_preview(patient_id, on=on)
    if preview.entries and (amend or not preview.closed_months):  # else the end refuses
        click.echo(render.end_preview_text(preview), err=True)
        confirmed(f"End {preview.patient} on {preview.ended_on}?", yes)
    view = service.patients.end(patient_id, on=on, actor=operator_name(by),
                                amendment=amendment_of(amend))
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
    view = current_service().patients.enrol(patient_id, on=on, actor=operator_name(by),
                                            amendment=amendment_of(amend))
    click.echo(f"patient {view.label} enrolled again on {view.enrolled_on}")


@patient.command("show")
@click.argument("patient_id")
@handled
def patient_show(patient_id: str) -> None:
    """Show a patient (phones are counted, never printed)."""
    click.echo(render.patient_text(current_service().patients.get(patient_id)))


@patient.command("list")
@click.option("--assigned-to", default=None, help="Only this staff member's patients.")
@handled
def patient_list(assigned_to: str | None) -> None:
    """List patients."""
    for view in current_service().patients.list(assigned_to=assigned_to):
        click.echo(f"{view.label}  assigned to {view.assigned_to or 'nobody'}")
