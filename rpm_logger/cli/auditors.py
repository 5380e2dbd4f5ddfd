"""`rpm-logger auditor`: grant an outside auditor a read-only, time-limited dashboard view,
list the grants, revoke one (issue 24)."""

from datetime import date
from urllib.parse import quote

import click

from billing.months import clinic_time
from rpm_logger.cli.common import (
    DATE,
    current_service,
    current_settings,
    handled,
    operator_name,
)
from rpm_logger.cli.root import cli
from service.auditors import GrantView

LOCAL_BASE_URL = "http://127.0.0.1:8000"


@cli.group()
def auditor() -> None:
    """Outside auditors' read-only dashboard access: one-time sign-in links."""


@auditor.command("grant")
@click.option("--name", required=True, help='Who the auditor is, e.g. "Payer reviewer".')
@click.option("--months", required=True, metavar="YYYY-MM[..YYYY-MM]",
              help="The months they may see, inclusive: 2026-10..2026-12.")
@click.option("--patients", default=None, metavar="ID,ID",
              help="Only these patients (clinic ids, comma-separated); default: every "
                   "patient of those months.")
@click.option("--expires", "expires_on", type=DATE, required=True,
              help="The last day (clinic zone) the access works, at most a year away.")
@click.option("--base-url", default=None,
              help="The dashboard's address in the link (default: PUBLIC_BASE_URL, else "
                   f"{LOCAL_BASE_URL}).")
@click.option("--by", default=None, help="Who grants it (audit); default cli:$USER.")
@handled
def auditor_grant(name: str, months: str, patients: str | None, expires_on: date,
                  base_url: str | None, by: str | None) -> None:
    """Grant read-only access and print its one-time sign-in link (shown only now)."""
    service = current_service()
    issued = service.auditors.grant(name=name, months=months, patients=patients,
                                    expires_on=expires_on, actor=operator_name(by))
    base = (base_url or current_settings().public_base_url or LOCAL_BASE_URL).rstrip("/")
    click.echo(f"{base}/auditor/sign-in?link={quote(issued.link_token, safe='')}")
    click.echo(f"granted #{issued.grant.id}: {_scope(issued.grant)}, through "
               f"{issued.grant.last_day(service.ctx.policy.zone)}; the link above works once "
               "(send it to the auditor only)", err=True)


def _scope(grant: GrantView) -> str:
    who = ", ".join(grant.patients) if grant.patients is not None else "every patient"
    return f"{grant.name}: {grant.months_text}, {who}"


@auditor.command("list")
@handled
def auditor_list() -> None:
    """Every grant: its scope, expiry and state (link not used yet, in use, expired,
    revoked)."""
    service = current_service()
    zone, now = service.ctx.policy.zone, service.ctx.now()
    grants = service.auditors.list()
    if not grants:
        click.echo("no auditor grants")
        return
    for grant in grants:
        state = grant.state(now)
        if grant.revoked_at is not None:
            state += f" {clinic_time(grant.revoked_at, zone)} by {grant.revoked_by}"
        click.echo(f"#{grant.id}  {_scope(grant)}  through {grant.last_day(zone)}"
                   f"  granted by {grant.created_by}  [{state}]")


@auditor.command("revoke")
@click.argument("grant_id")
@click.option("--by", default=None, help="Who revokes it (audit); default cli:$USER.")
@handled
def auditor_revoke(grant_id: str, by: str | None) -> None:
    """End a grant now: its link and any session it started stop working."""
    grant = current_service().auditors.revoke(grant_id, actor=operator_name(by))
    click.echo(f"revoked #{grant.id}: {_scope(grant)}")
