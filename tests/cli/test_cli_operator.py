"""Clinic finding (issue 26 item 6): `log --staff UNRS0002` run by root recorded the nurse as
the one who entered it. The nurse performed the service; the CLI's operator (`cli:USER`)
entered it: both are recorded, in the trail, `export` and the packet."""

import csv
import getpass
import io
import os

from sqlmodel import select

from service import Service
from store.models import AuditEvent
from tests.cli.runner import Cli
from tests.conftest import FrozenClock
from tests.service.helpers import NURSE, seed


def test_the_cli_records_who_performed_and_who_entered(
    svc: Service, db_url: str, clock: FrozenClock,
) -> None:
    seed(svc)
    operator = f"cli:{getpass.getuser()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    cli = Cli({**env, "DATABASE_URL": db_url}, clock=clock)
    entry_id = int(cli("log", "P-1042", "12m", "review", "--staff", NURSE).stdout)
    entry = svc.entries.get(entry_id)
    assert (entry.staff, entry.created_by) == (NURSE, operator)
    with svc.ctx.db.read_session() as session:
        [record] = session.exec(select(AuditEvent).where(AuditEvent.action == "entry.log")).all()
    assert record.actor == operator and record.after is not None
    assert record.after["staff_id"] != record.after["created_by"] == operator
    [row] = csv.DictReader(io.StringIO(cli("export").stdout))
    assert (row["staff"], row["created_by"]) == (NURSE, operator)
    packet = svc.audit_packets.packet("P-1042", svc.months.current())
    [printed] = packet.content["entries"]
    assert printed["staff"]["slack_id"] == NURSE and printed["staff"]["name"] == "Nina Nurse"
    assert printed["logged_by"]["slack_id"] == operator


def test_through_sudo_the_administrator_is_the_operator(
    svc: Service, db_url: str, clock: FrozenClock,
) -> None:
    """Outside IT (issue 23): through deploy/rpm-logger-cli every change was audited as
    `cli:rpm-logger`, the service's user it runs as; sudo's SUDO_USER (which the wrapper
    passes on) names the administrator; `--by` still names someone else."""
    seed(svc)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    cli = Cli({**env, "DATABASE_URL": db_url, "SUDO_USER": "ada"}, clock=clock)
    cli("staff", "add", "U03NEW", "--name", "Ned New", "--role", "clinical_staff")
    cli("staff", "add", "U04NEW", "--name", "Nia New", "--role", "clinical_staff",
        "--by", "dr-lee")
    with svc.ctx.db.read_session() as session:
        actors = session.exec(select(AuditEvent.actor)
                              .where(AuditEvent.action == "staff.add")
                              .order_by(AuditEvent.id)).all()
    assert actors[-2:] == ["cli:ada", "dr-lee"]
