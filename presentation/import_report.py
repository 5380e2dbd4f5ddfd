"""What `rpm-logger import` shows: each row added, updated (which columns) or unchanged, the
sum, and a refused file's every bad line. Keys and columns only: never a cell's value, so no
phone number is echoed."""

from collections.abc import Iterable

from service.imports import ImportReport, Problem, RowResult

__all__ = ["problems_text", "report_text"]


def problems_text(problems: Iterable[Problem]) -> str:
    """One line per bad line of the file, every reason it has: `line 4 (P-1003): reason;
    reason`; line 0 is the file itself."""
    grouped: dict[int, tuple[str | None, list[str]]] = {}
    for problem in problems:
        key, reasons = grouped.setdefault(problem.line, (problem.key, []))
        reason = " ".join(problem.reason.split())  # a cell's newline stays on its line
        if reason.endswith(".") and not reason.endswith(".."):
            reason = reason[:-1]  # the reasons are joined by "; "
        if reason not in reasons:
            reasons.append(reason)
    lines = []
    for number, (key, reasons) in grouped.items():
        where = "the file" if number == 0 else f"line {number}"
        shown = f" ({' '.join(key.split())})" if key else ""
        lines.append(f"  {where}{shown}: {'; '.join(reasons)}")
    return "\n".join(lines)


def _row_text(row: RowResult, dry_run: bool) -> str:
    verb = {"added": "to add" if dry_run else "added",
            "updated": "to update" if dry_run else "updated",
            "unchanged": "unchanged"}[row.outcome]
    columns = f": {', '.join(row.columns)}" if row.columns else ""
    return f"line {row.line}  {row.key}  {verb}{columns}"


def report_text(report: ImportReport) -> str:
    """A dry run lists every row; an import lists the rows it changed, then the sum."""
    rows = [_row_text(row, report.dry_run) for row in report.rows
            if report.dry_run or row.outcome != "unchanged"]
    added, updated = report.count("added"), report.count("updated")
    unchanged = report.count("unchanged")
    if report.dry_run:
        summary = (f"dry run of {report.file}: {added} to add, {updated} to update, "
                   f"{unchanged} unchanged; nothing changed")
    elif not report.changes:
        summary = (f"{report.file}: nothing to change ({unchanged} "
                   f"{'row' if unchanged == 1 else 'rows'} already as the file says); "
                   "nothing saved")
    else:
        summary = (f"{report.file}: {added} added, {updated} updated, {unchanged} unchanged "
                   f"(file SHA-256 {report.sha256[:16]}…, in the audit trail)")
    return "\n".join([*rows, summary])
