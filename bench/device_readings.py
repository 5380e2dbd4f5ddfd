"""The device readings webhook with 500 readings per request (issue 28, item 6).

    .venv/bin/python -m bench.device_readings [--requests 20] [--readings 500]
        [--database sqlite|URL]

Builds the real app (rpm_logger.app.create_app) on a fresh SQLite file in a temporary folder
(or the database URL given: a scratch database of your own, which is migrated and written
and not emptied after), lends one device to each of 50 patients, and posts signed JSON
bodies of N readings each (new readings every request: each is a full insert, none a
replay), in this process over ASGI (tests/loopback.py's `in_process`), then the same bodies
again (all replays). Prints, per phase, wall seconds per request (median, worst) and CPU ms
per request (`time.process_time`). The target: under 1 s a request on SQLite.

Not part of the test suite: nothing there is timed.
"""

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from configuration.settings import Settings
from rpm_logger.app import create_app
from rpm_logger.wiring import build_service, open_database
from service.patients import PatientFields
from tests.loopback import in_process
from web.readings import signature_of

SECRET = "bench-secret"
PATIENTS = 50


def _settings(url: str) -> Settings:
    return Settings(database_url=url, device_webhook_secret=SecretStr(SECRET),
                    reminders_enabled=False, reconcile_enabled=False)  # type: ignore[call-arg]


def _bodies(requests: int, readings: int, start: datetime) -> list[bytes]:
    bodies = []
    for r in range(requests):
        batch = []
        for i in range(readings):
            n = r * readings + i
            batch.append({"reading_id": f"bench-{n}", "device_serial": f"BP-{n % PATIENTS:04d}",
                          "measured_at": (start + timedelta(minutes=n)).isoformat(),
                          "kind": "blood_pressure", "values": {"systolic": 120 + n % 20,
                                                              "diastolic": 80}})
        bodies.append(json.dumps(batch).encode())
    return bodies


def _post(client: Any, body: bytes) -> float:
    ts = str(int(time.time()))
    began = time.perf_counter()
    answer = client.post("/devices/readings", content=body, headers={
        "Content-Type": "application/json", "X-RPM-Timestamp": ts,
        "X-RPM-Signature": signature_of(SECRET.encode(), ts, body)})
    elapsed = time.perf_counter() - began
    assert answer.status_code == 200, answer.text
    return elapsed


def _phase(name: str, client: Any, bodies: list[bytes], readings: int) -> None:
    cpu = time.process_time()
    walls = [_post(client, body) for body in bodies]
    cpu_ms = (time.process_time() - cpu) * 1000 / len(bodies)
    print(f"{name:8} {len(bodies)} requests x {readings} readings: median "
          f"{statistics.median(walls) * 1000:.0f} ms, worst {max(walls) * 1000:.0f} ms, "
          f"CPU {cpu_ms:.0f} ms/request")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--readings", type=int, default=500)
    parser.add_argument("--database", default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = (f"sqlite:///{Path(folder) / 'bench.db'}" if args.database == "sqlite"
               else args.database)
        settings = _settings(url)
        service = build_service(settings, open_database(settings))
        for p in range(PATIENTS):
            service.patients.add(f"B-{p:04d}", PatientFields(), actor="bench")
            service.devices.add(f"BP-{p:04d}", patient_ref=f"B-{p:04d}", kind="bp_cuff",
                                from_day=date(2026, 1, 1), actor="bench")
        start = datetime.now(UTC) - timedelta(days=40)
        bodies = _bodies(args.requests, args.readings, start)
        print(f"database: {service.ctx.db.dialect}; body {len(bodies[0]) // 1024} KiB")
        with in_process(create_app(settings, service=service)) as client:
            _phase("new", client, bodies, args.readings)
            _phase("replayed", client, bodies, args.readings)
        service.ctx.db.dispose()


if __name__ == "__main__":
    main()
