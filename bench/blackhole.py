"""PostgreSQL behind a black hole (issue 27, item 3), with the settings' defaults:

    .venv/bin/python -m bench.blackhole [--runs 3] [--cap 30]

The app runs on uvicorn on loopback with its DATABASE_URL through tests/blackhole.py's proxy
in front of a throwaway PostgreSQL database (BENCH_PG_ADMIN names the server). Each run warms
the pool, switches the proxy to a black hole (nothing forwarded either way, nothing sent, no
reset), then asks at the same moment: /healthz, /twilio/voice/incoming (a patient calling,
signed as Twilio signs) and a status callback. Printed per run: each answer and how long it
took (or "none in CAP s"), how long until no request thread holds a pooled connection (the
path still silent), and, once the proxy forwards again, how long until /healthz says 200 and
a status callback is stored.

Run it on another commit's code by putting that tree first on the path, with this file and
tests/blackhole.py copied into it (docs/security.md, "Database outages", did so for main).
"""

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from bench.databases import recreate_postgres
from rpm_logger.app import create_app
from rpm_logger.wiring import open_database
from service import Service, ServiceContext
from tests.blackhole import BlackHoleProxy
from tests.conftest import FrozenClock
from tests.loopback import served
from tests.telephony.conftest import (
    ACCOUNT_SID,
    NURSE_TWILIO_NUMBER,
    PATIENT_PHONE,
    PUBLIC_BASE_URL,
    new_sid,
    seed_clinic,
    sign,
    status_form,
    twilio_settings,
)

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = "rpm_bench_blackhole"


def _timed(send: Callable[[], httpx.Response], cap: float) -> str:
    started = time.monotonic()
    try:
        response = send()
    except httpx.TimeoutException:
        return f"none in {cap:g} s"
    took = time.monotonic() - started
    said = response.text if response.headers.get("content-type", "").startswith(
        "application/json") else ("dials the fallback" if "+16175550111" in response.text
                                  else response.text[:40])
    return f"{response.status_code} in {took:.2f} s ({said})"


def _until(condition: Callable[[], bool], cap: float) -> str:
    started = time.monotonic()
    while time.monotonic() - started < cap:
        if condition():
            return f"{time.monotonic() - started:.2f} s"
        time.sleep(0.05)
    return f"not in {cap:g} s"


class Bench:
    def __init__(self, base: str, http: httpx.Client, service: Service) -> None:
        self.base, self.http, self.service = base, http, service

    def post(self, path: str, form: dict[str, str]) -> httpx.Response:
        return self.http.post(self.base + path, data=form, headers={
            "X-Twilio-Signature": sign(PUBLIC_BASE_URL + path, form)})

    def incoming(self) -> httpx.Response:
        return self.post("/twilio/voice/incoming", {
            "AccountSid": ACCOUNT_SID, "CallSid": new_sid(), "CallStatus": "ringing",
            "Direction": "inbound", "From": PATIENT_PHONE, "To": NURSE_TWILIO_NUMBER})

    def status(self, sid: str) -> httpx.Response:
        return self.post("/twilio/voice/status", status_form(
            sid=sid, status="completed", from_=PATIENT_PHONE, to=NURSE_TWILIO_NUMBER,
            direction="inbound", sequence=3, at=FrozenClock().now, duration=300))

    def healthz(self) -> httpx.Response:
        return self.http.get(self.base + "/healthz")


def one_run(bench: Bench, proxy: BlackHoleProxy, pool: Any, cap: float) -> dict[str, str]:
    for _ in range(3):  # a warm pool: the connections the black hole will swallow
        bench.healthz(), bench.incoming()
    proxy.black_hole()
    sid = new_sid()
    with ThreadPoolExecutor(3) as asking:
        asked = {"healthz": asking.submit(_timed, bench.healthz, cap),
                 "incoming": asking.submit(_timed, bench.incoming, cap),
                 "status": asking.submit(_timed, lambda: bench.status(sid), cap)}
        found = {name: future.result() for name, future in asked.items()}
    found["threads freed"] = _until(lambda: pool.checkedout() == 0, cap)
    proxy.heal()
    found["healthz 200 after"] = _until(lambda: bench.healthz().status_code == 200, cap)
    found["callback stored after"] = _until(lambda: bench.status(sid).status_code == 200, cap)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cap", type=float, default=30, help="longest wait for an answer (s)")
    args = parser.parse_args()
    recreate_postgres(PG_ADMIN_URL, PG_DB)
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=PG_DB)
    open_database(twilio_settings(database_url=url.render_as_string(hide_password=False)))
    with BlackHoleProxy(url.port or 5432) as proxy:
        through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False)
        settings = twilio_settings(database_url=through, reconcile_enabled=False)
        db = open_database(settings, migrate=False)
        service = Service(ServiceContext(db, clock=FrozenClock()))
        seed_clinic(service)
        with served(create_app(settings, service=service)) as base, \
                httpx.Client(timeout=args.cap) as http:
            bench = Bench(base, http, service)
            for run in range(1, args.runs + 1):
                found = one_run(bench, proxy, db.engine.pool, args.cap)
                print(f"run {run}: " + "; ".join(f"{k}: {v}" for k, v in found.items()),
                      flush=True)
            proxy.heal()
        db.dispose()


if __name__ == "__main__":
    main()
