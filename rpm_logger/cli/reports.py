"""`rpm-logger report` and `export`: the month for the billing office and auditors."""


import click

from presentation import render
from rpm_logger.cli.common import current_service, handled, month_or_current, operator_name
from rpm_logger.cli.root import cli
from service.access import EXPORT, REPORT, Viewer


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
    chosen = month_or_current(month)
    service = current_service()
    service.access.record(Viewer.operator(operator_name(None)), REPORT, chosen)  # first
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
    service = current_service()
    chosen = month_or_current(month)
    service.access.record(Viewer.operator(operator_name(None)), EXPORT, chosen)  # first
    entries = service.entries.for_month(chosen)
    click.echo(render.export_csv(entries, service.ctx.policy.zone,
                                 region=service.ctx.policy.phone_region), nl=False)
