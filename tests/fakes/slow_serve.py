"""`python tests/fakes/slow_serve.py PORT HOLD_BEFORE HOLD_AFTER`: `rpm-logger serve` itself,
with each `/rpm` command's work held slow (seconds of sleep before and after the real
dispatch, in the worker thread), so that a burst queues behind the worker threads and a kill
finds works queued, running, and committed but not yet answered. Nothing else is changed.

Run by path, with the code under test on PYTHONPATH (tests/sigkill_burst.py), so a benchmark
can run it against another checkout's code (bench/sigkill_burst.py, "before" figures)."""

import sys
import time
from typing import Any


def main() -> None:
    port, before, after = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    from bot import dispatch
    from rpm_logger import cli

    real = dispatch.run

    def held(*args: Any, **kwargs: Any) -> Any:
        time.sleep(before)
        reply = real(*args, **kwargs)
        time.sleep(after)  # committed, not yet answered
        return reply

    if before or after:
        dispatch.run = held  # type: ignore[assignment]
    sys.argv = ["rpm-logger", "serve", "--port", port]
    cli.main()


if __name__ == "__main__":
    main()
