"""`rpm-logger remind`: the at-risk reminder job, run by hand."""

from datetime import date

import click

from presentation import render
from rpm_logger.cli.common import (
    DATE,
    Exit,
    current_service,
    current_settings,
    handled,
    operator_name,
)
from rpm_logger.cli.root import cli


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

    settings = current_settings()
    if not dry_run and not settings.slack_bot_token:
        raise Exit("Slack is not configured: set SLACK_BOT_TOKEN to send reminders "
                   "(or use --dry-run to see them)", 2)
    run = run_by_hand(current_service(), settings, day, dry_run=dry_run, actor=operator_name(None))
    click.echo(render.as_json(messages.run_json(run)) if as_json else messages.run_text(run))
    if run.failed:
        raise Exit(f"{len(run.failed)} reminder(s) failed; the scheduler retries them later "
                   "today, or run `rpm-logger remind` again", 1)
