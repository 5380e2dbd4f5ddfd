"""The `rpm-logger` command: parse options, call one service function, render.

One module per group of commands (staff, patients, time entries, ...); each registers its
commands on the group in `root`, so importing this package builds the whole command.
"""

from rpm_logger.cli import (  # noqa: F401 (each registers its commands)
    audit,
    auditors,
    backups,
    calls,
    devices,
    imports,
    months,
    patients,
    remind,
    reports,
    staff,
    time_entries,
)
from rpm_logger.cli.root import cli, main

devices.register_import_readings()  # into the `import` group, whichever module made it

__all__ = ["cli", "main"]
