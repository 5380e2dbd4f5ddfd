"""`rpm-logger device add|end|list|unmatched|attach` and `rpm-logger import readings FILE.csv`.

`import_readings` is a plain click command: `register_import_readings` adds it to the
`import` group (rpm_logger/cli/imports.py's, with `import patients|staff`, when that module is
there; else a group of its own), after every module registered its commands.
"""

from datetime import date
from pathlib import Path
from typing import Any

import click

from billing.devices import DEVICE_KINDS
from billing.months import clinic_time
from rpm_logger.cli.common import (
    DATE,
    Exit,
    amendment_of,
    current_service,
    handled,
    operator_name,
)
from rpm_logger.cli.root import cli
from service.devices import MAX_FILE_BYTES


@cli.group()
def device() -> None:
    """Monitoring devices: lend one to a patient, end it, list; unmatched readings."""


DEVICE_HEADER = "serial\tpatient\tkind\tfrom\tto"


def _device_line(view: Any) -> str:
    return (f"{view.serial}\t{view.patient_id}\t{view.kind}\t{view.started_on}\t"
            f"{view.ended_on or '-'}")


@device.command("add")
@click.argument("serial")
@click.option("--patient", "patient_id", required=True, help="Clinic patient id.")
@click.option("--kind", required=True, type=click.Choice(DEVICE_KINDS))
@click.option("--from", "from_day", type=DATE, default=None,
              help="First day it is the patient's (YYYY-MM-DD; default today).")
@handled
def device_add(serial: str, patient_id: str, kind: str, from_day: date | None) -> None:
    """Lend the device SERIAL to a patient."""
    svc = current_service()
    view = svc.devices.add(serial, patient_ref=patient_id, kind=kind, from_day=from_day,
                           actor=operator_name(None))
    click.echo(_device_line(view))
    waiting = next((u for u in svc.devices.unmatched()
                    if (u.serial or "").upper() == view.serial.upper()), None)
    if waiting is not None:
        click.echo(f"{waiting.readings} unmatched readings of {view.serial}: "
                   f"`rpm-logger device attach {view.serial}` gives them to the patient",
                   err=True)


_AMEND_HELP = ("Amend a closed month whose device codes this changes (the operator's "
               "amendment, with its reason).")


@device.command("end")
@click.argument("serial")
@click.option("--on", "on", type=DATE, required=True, help="Its last day (YYYY-MM-DD).")
@click.option("--amend", default=None, metavar="REASON", help=_AMEND_HELP)
@handled
def device_end(serial: str, on: date, amend: str | None) -> None:
    """End the lending of the device SERIAL."""
    click.echo(_device_line(current_service().devices.end(
        serial, on=on, actor=operator_name(None), amendment=amendment_of(amend))))


@device.command("list")
@click.option("--patient", "patient_id", default=None, help="One patient's devices.")
@handled
def device_list(patient_id: str | None) -> None:
    """Devices lent, by patient, under a header row."""
    click.echo(DEVICE_HEADER)
    for view in current_service().devices.listed(patient_id):
        click.echo(_device_line(view))


@device.command("unmatched")
@handled
def device_unmatched() -> None:
    """Readings of serials no device is lent for (kept, never dropped), by serial."""
    svc = current_service()
    zone = svc.ctx.policy.zone
    click.echo("serial\treadings\tfirst\tlast")
    for row in svc.devices.unmatched():
        click.echo(f"{row.serial or '-'}\t{row.readings}\t{clinic_time(row.first, zone)}\t"
                   f"{clinic_time(row.last, zone)}")


@device.command("attach")
@click.argument("serial")
@click.option("--amend", default=None, metavar="REASON", help=_AMEND_HELP)
@handled
def device_attach(serial: str, amend: str | None) -> None:
    """Give SERIAL's unmatched readings to the patient it was lent to on each one's day."""
    attached, left = current_service().devices.attach(serial, actor=operator_name(None),
                                                      amendment=amendment_of(amend))
    click.echo(f"{_readings(attached)} attached; {left} still unmatched (no lending of "
               f"{serial} on their day)")


def _readings(count: int) -> str:
    return f"{count} reading{'' if count == 1 else 's'}"


@click.command("readings")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and count; store nothing.")
@click.option("--amend", default=None, metavar="REASON", help=_AMEND_HELP)
@handled
def import_readings(file: Path, dry_run: bool, amend: str | None) -> None:
    """Import a vendor's CSV export of readings: all of them, or none (one transaction).

    Columns (`rpm-logger import template readings`): reading_id (optional), device_serial
    and/or patient_id, measured_at (ISO 8601 with its offset), kind (blood_pressure, weight,
    glucose, spo2, other); every other column is a named value (systolic, diastolic, kg, ...).
    Readings are stored once, marked with their source (csv); an unknown serial's are kept
    unmatched. Readings that change a closed month's device codes are refused unless
    --amend REASON."""
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise Exit(f"cannot read {file}: {exc.__class__.__name__}; nothing was stored", 2) \
            from None
    result = current_service().devices.import_file(data, actor=operator_name(None),
                                                   dry_run=dry_run,
                                                   amendment=amendment_of(amend))
    verb = "would store" if dry_run else "stored"
    click.echo(f"{_readings(result.received)}: {verb} {result.stored}, {result.replayed} "
               f"already stored, {result.unmatched} unmatched")
    for change in result.closed_changes:  # only with --amend: else refused
        click.echo(f"amends {change.month}: {change.text} ({result.amendment_reason})")


def register_import_readings() -> None:
    """Add `readings` to the `import` group: another module's (rpm_logger/cli/imports.py's
    `import patients|staff`), else a group of its own. Called by rpm_logger/cli/__init__.py
    once every module has registered its commands, so the order of imports never matters
    (a later `@cli.group("import")` would replace a group made earlier)."""
    found = cli.commands.get("import")
    if not isinstance(found, click.Group):
        @cli.group("import")
        def import_group() -> None:
            """Import records from files (all or nothing)."""

        found = import_group
    found.add_command(import_readings)
