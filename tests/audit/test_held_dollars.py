"""Clinic finding (issue 26 item 2): a held patient's dollars disagreed between screens.
P-1009 (no consent on file): the `report` table and JSON said $93.00, the CSV and the
dashboard CSV $0.00, and the JSON rows summed to $1,457 against the summary's $1,364. Now one
definition: a held row's expected amount is $0.00 everywhere, and what it would bill once the
hold is lifted is shown apart as `held_amount` ("held: $…" in the table)."""

import csv
import io
import json
import os

from fastapi.testclient import TestClient

from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from tests.audit.test_close_holds import OCT, _clinic
from tests.cli.runner import Cli
from tests.conftest import FrozenClock


def test_every_screen_gives_a_held_row_the_same_dollars(
    svc: Service, db_url: str, clock: FrozenClock,
) -> None:
    _clinic(svc)  # P-1042 billable, P-2000 no consent, P-3000 no order; each 25 min + live
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    cli = Cli({**env, "DATABASE_URL": db_url}, clock=clock)
    rows = json.loads(cli("report", "--month", str(OCT), "--format", "json").stdout)
    by_id = {r["patient_id"]: r for r in rows}
    assert [by_id[p]["expected_amount"] for p in ("P-1042", "P-2000", "P-3000")] == \
        [52.0, 0.0, 0.0]
    assert [by_id[p]["held_amount"] for p in ("P-1042", "P-2000", "P-3000")] == \
        [0.0, 52.0, 52.0]
    totals = json.loads(cli("report", "--month", str(OCT), "--summary", "--format",
                            "json").stdout)
    assert sum(r["expected_amount"] for r in rows) == totals["expected_amount"] == 52.0
    table = cli("report", "--month", str(OCT)).stdout
    [held_line] = [line for line in table.splitlines() if line.startswith("P-2000")]
    assert "$0.00 (held: $52.00)" in held_line
    csv_rows = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(
        cli("report", "--month", str(OCT), "--format", "csv").stdout))}
    assert (csv_rows["P-2000"]["expected_amount"], csv_rows["P-2000"]["held_amount"]) == \
        ("0.00", "52.00")
    assert (csv_rows["P-1042"]["expected_amount"], csv_rows["P-1042"]["held_amount"]) == \
        ("52.00", "")
    with TestClient(create_app(Settings(database_url=db_url), service=svc),
                    client=("127.0.0.1", 50000)) as client:
        dashboard = client.get(f"/reports/{OCT}.csv")
    assert dashboard.status_code == 200, dashboard.text
    web_rows = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(dashboard.text))}
    assert {p: (r["expected_amount"], r["held_amount"]) for p, r in web_rows.items()} == \
        {p: (r["expected_amount"], r["held_amount"]) for p, r in csv_rows.items()}
