"""`rpm-logger import`: onboard patients or staff from a CSV file, and the files' templates
(readings' too: `import readings` itself is rpm_logger/cli/devices.py's).

The file is read here (at most the service's size limit, plus one byte to know it is over);
reading its rows, checking and saving them is the service's (service/imports.py)."""

from pathlib import Path

import click

from presentation import import_report
from rpm_logger.cli.common import (
    Exit,
    amendment_of,
    current_service,
    handled,
    may_create_database,
    operator_name,
)
from rpm_logger.cli.root import cli
from service.import_csv import MAX_FILE_BYTES, ImportRefused
from service.imports import ImportReport


@cli.group("import")
def import_group() -> None:
    """Add or update patients or staff from a CSV file (one transaction per file)."""


def _read(file: Path) -> bytes:
    try:
        with file.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise Exit(f"{file}: no such file; nothing changed", 2) from None
    except IsADirectoryError:
        raise Exit(f"{file} is a folder, not a CSV file; nothing changed", 2) from None
    except OSError as exc:
        raise Exit(f"{file}: cannot read it ({exc.strerror}); nothing changed", 2) from None


def _shown(report: ImportReport) -> None:
    click.echo(import_report.report_text(report))


def _refused(exc: ImportRefused) -> Exit:
    click.echo(import_report.problems_text(exc.problems), err=True)
    return Exit(str(exc), 2)


@import_group.command("patients")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Say what each row would do (added, updated: which columns, unchanged); "
                   "change nothing.")
@click.option("--replace-lists", is_flag=True,
              help="A phones, caregiver_phones or conditions cell replaces the patient's "
                   "list (without it, adds to it).")
@click.option("--amend", default=None, metavar="REASON",
              help="Rows change what a closed month billed (enrolment, consent): the "
                   "operator's amendment, with its reason.")
@click.option("--by", default=None, help="Who is making the change (audit).")
@handled
@may_create_database
def import_patients(file: Path, dry_run: bool, replace_lists: bool, amend: str | None,
                    by: str | None) -> None:
    """Add or update the patients of FILE (CSV, UTF-8, header first: `rpm-logger import
    template patients`); any bad row refuses the whole file."""
    data = _read(file)
    try:
        report = current_service().imports.patients(
            data, file_name=file.name, actor=operator_name(by), dry_run=dry_run,
            replace_lists=replace_lists, amendment=amendment_of(amend))
    except ImportRefused as exc:
        raise _refused(exc) from None
    _shown(report)


@import_group.command("staff")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Say what each row would do (added, updated: which columns, unchanged); "
                   "change nothing.")
@click.option("--by", default=None, help="Who is making the change (audit).")
@handled
@may_create_database
def import_staff(file: Path, dry_run: bool, by: str | None) -> None:
    """Add or update the staff of FILE (CSV, UTF-8, header first: `rpm-logger import
    template staff`); any bad row refuses the whole file. Voice PINs are never in a file:
    `staff update SLACK_USER_ID --voice-pin -` reads one from standard input."""
    data = _read(file)
    try:
        report = current_service().imports.staff(data, file_name=file.name,
                                                 actor=operator_name(by), dry_run=dry_run)
    except ImportRefused as exc:
        raise _refused(exc) from None
    _shown(report)


@import_group.command("template")
@click.argument("kind", type=click.Choice(["patients", "staff", "readings"]))
def import_template(kind: str) -> None:
    """Print the header of a KIND file with one example row (readings: every column after
    kind is a named value; the example's are a blood pressure's)."""
    from presentation.render import csv_template
    from service.imports import ImportService

    click.echo(csv_template(ImportService.template(kind)), nl=False)
