"""`rpm-logger month`: close a billed month, reopen a mistaken close, show its closes."""


import click

from billing.months import Month, clinic_time
from presentation import render
from rpm_logger.cli.common import Exit, confirmed, current_service, handled, operator_name
from rpm_logger.cli.root import cli


@cli.group("month")
def month_group() -> None:
    """Close a billed month, reopen a mistaken close, show a month's closes."""



@month_group.command("close")
@click.argument("month")
@click.option("--by", default=None, help="Who closes it (audit); default the operator.")
@click.option("--yes", is_flag=True, help="Close without asking (scripts).")
@handled
def month_close(month: str, by: str | None, yes: bool) -> None:
    """Lock MONTH (YYYY-MM) once billed: later changes need an admin amendment.

    Says first what it locks (patients, codes, dollars) and asks on a terminal."""
    chosen = Month.parse(month)
    service = current_service()
    click.echo(render.close_preview_text(service.closes.preview(chosen)), err=True)
    confirmed(f"Close {chosen}?", yes)
    closed = service.closes.close(chosen, by=operator_name(by))
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
        raise Exit(f"Say whether {chosen}'s claims were sent: --billed or --not-billed. "
                   + render.REOPEN_ADVICE, 2)
    service = current_service()
    closed = service.closes.to_reopen(chosen)
    click.echo(f"{chosen} was closed on {clinic_time(closed.closed_at, service.ctx.policy.zone)}"
               f" by {closed.closed_by}: "
               f"{render.close_figures(closed)}", err=True)
    if billed:
        click.echo(render.REOPEN_ADVICE, err=True)
    confirmed(f"Reopen {chosen} ({'billed' if billed else 'not billed'})?", yes)
    view = service.closes.reopen(chosen, reason=reason, by=operator_name(by), billed=billed)
    click.echo(f"reopened {view.month} by {view.closed_by}: {view.reason} "
               f"({render.reopen_billed_text(view.billed)})")


@month_group.command("show")
@click.argument("month")
@handled
def month_show(month: str) -> None:
    """Whether MONTH is closed, every close and reopen of it, and each patient whose time or
    device codes changed since the close billed."""
    chosen = Month.parse(month)
    service = current_service()
    zone = service.ctx.policy.zone
    closed = service.closes.get(chosen)
    click.echo(f"{chosen}: closed on {clinic_time(closed.closed_at, zone)} by {closed.closed_by}"
               if closed else f"{chosen}: open")
    history = service.closes.history(chosen)
    for view in history:
        click.echo(render.close_event_text(view, zone))
    if any(view.action == "close" for view in history):
        changed = service.months.totals(chosen).changed_since_close
        if changed:
            click.echo(render.changed_since_close_text(changed))
