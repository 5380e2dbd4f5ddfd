"""The free space of the disk the SQLite database is on, read at each scrape.

A full disk fails every save (SQLite cannot grow its file or its WAL) while /healthz still
says 200: its probe is rolled back before it writes (docs/security.md). So the free space is
watched here, as an alert (deploy/alerts.yml), not as a health failure: every process on the
machine shares the disk, and a failing /healthz would make the proxy drop them all at once.
"""

import shutil
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class DiskSpace(Collector):
    """Free and total bytes of the file system holding `folder`; nothing when unreadable."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            usage = shutil.disk_usage(self.folder)
        except OSError:
            return
        yield GaugeMetricFamily("rpm_sqlite_disk_free_bytes", "Bytes free for the service "
                                "on the SQLite database's file system.", value=usage.free)
        yield GaugeMetricFamily("rpm_sqlite_disk_size_bytes", "Size in bytes of the SQLite "
                                "database's file system.", value=usage.total)
