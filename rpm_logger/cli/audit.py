"""`rpm-logger audit`: verify the trail, the practice's own checks, audit packets."""

from pathlib import Path
from typing import Any

import click

from billing.errors import InvalidInput, quoted
from billing.months import Month
from presentation import packet as packet_render
from presentation import render
from rpm_logger import files
from rpm_logger.cli.common import (
    DATE,
    PACKET,
    Exit,
    current_service,
    handled,
    month_or_current,
    operator_name,
    refuse_to_replace,
)
from rpm_logger.cli.root import cli
from service.access import PACKET as PACKET_VIEW
from service.access import Viewer


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
    report = current_service().audit_trail.verify(head)
    click.echo(render.trail_json(report) if as_json else "\n".join(render.trail_lines(report)))
    if not report.clean:
        raise Exit(report.findings[0].message, TRAIL_BROKEN)


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
    checks = current_service().audit_checks.run(month_or_current(month))
    if fmt == "json":
        click.echo(render.as_json([f.as_json() for f in checks.findings]))
    elif fmt == "csv":
        click.echo(render.findings_csv(checks.findings), nl=False)
    else:
        click.echo(render.findings_table(checks))
    if fail_on_findings and checks.findings:
        raise Exit(render.findings_count(checks.counts()), 1)


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
        refuse_to_replace(Path(out), force)  # before the service: a refusal changes nothing
    service = current_service()
    chosen = Month.parse(month)
    service.access.record(_operator(), PACKET_VIEW, chosen, patient_id)  # before reading
    made = service.audit_packets.packet(patient_id, chosen)
    if out is None:
        click.echo(packet_render.html(made), nl=False)
        return
    _write_packet(Path(out), _packet_bytes(made, fmt), force)
    click.echo(f"wrote {out} (SHA-256 {made.digest})", err=True)


def _write_packet(path: Path, data: bytes, replace: bool) -> None:
    files.write_file(path, lambda file: file.write(data), replace=replace, what=PACKET)


def _packet_bytes(made: Any, fmt: str) -> bytes:
    return packet_render.pdf(made) if fmt == "pdf" else packet_render.html(made).encode()


def _all_packets(month: str | None, fmt: str, out: str | None, force: bool) -> None:
    if month is None or out is None:
        raise InvalidInput("--all needs --month YYYY-MM and --out DIR.")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InvalidInput(f"--out {quoted(out)} is a file: --all writes into a folder.")
    service = current_service()
    packets = service.audit_packets.billable(Month.parse(month))
    paths = [folder / f"packet-{made.patient_id}-{made.month}.{fmt}" for made in packets]
    for path in paths:  # every name checked before the first packet is written
        refuse_to_replace(path, force)
    if packets:  # every packet's view recorded before the first one is written
        service.access.record_many(_operator(), PACKET_VIEW, Month.parse(month),
                                   [made.patient_id for made in packets])
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
        raise Exit(f"{path} was edited: {reading.problem}", EXIT_PACKET_EDITED)
    check = current_service().audit_packets.verify(reading.content, patient_ref=patient_id,
                                                   month=Month.parse(month) if month else None)
    if check.changes:
        lines = "\n".join(f"  {change}" for change in check.changes)
        raise Exit(f"{path}: the records of {check.patient_id} {check.month} changed since "
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


def _operator() -> Viewer:
    return Viewer.operator(operator_name(None))


@audit.command("access")
@click.option("--patient", "patient_id", default=None, metavar="ID",
              help="Only views of this patient (clinic id or phone).")
@click.option("--by", "by", default=None, metavar="WHO",
              help="Only views by this viewer: a Slack id, dashboard-token, loopback, "
                   "auditor:ID or cli:USER.")
@click.option("--since", type=DATE, default=None, help="From this clinic day on (YYYY-MM-DD).")
@click.option("--refused", is_flag=True,
              help="Only the refused asks: a signed-in member or auditor asking for a "
                   "patient page, packet or report outside their scope.")
@click.option("--json", "as_json", is_flag=True, help="One JSON list instead of lines.")
@handled
def audit_access(patient_id: str | None, by: str | None, since: Any, refused: bool,
                 as_json: bool) -> None:
    """The access log: every view of a patient page, a packet, a report or an export, and
    every ask refused as outside the viewer's scope (who, when, what, viewed or refused),
    newest first, from the hash-chained audit trail."""
    service = current_service()
    views = service.access.log(patient_ref=patient_id, by=by, since=since,
                               refused=True if refused else None)
    if as_json:
        click.echo(render.as_json([v.as_json() for v in views]))
        return
    click.echo(render.access_table(views, service.ctx.policy.zone, refused_only=refused))
