"""The dashboard in a real headless Chromium: it renders, the bars match the data, the staff
filter works. The app runs on uvicorn on loopback without a token (the loopback rule)."""

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from billing.codes import TWENTY_MINUTES
from billing.months import Month
from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Policy, Service, ServiceContext
from store.db import Database
from store.migrate import upgrade_to_head
from tests.conftest import FrozenClock
from tests.service.helpers import NURSE
from tests.web.browser import chromium_or_skip, devtools, dump_dom, png_size, screenshot
from tests.web.support import RAW_PHONE_DIGITS, Page, seed_month, served

DOCS_SHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
BARS_JS = """JSON.stringify([...document.querySelectorAll('tr.patient')].map(row => ({
  patient: row.dataset.patient, seconds: Number(row.dataset.seconds),
  track: row.querySelector('.bar').getBoundingClientRect().width,
  fill: row.querySelector('.fill').getBoundingClientRect().width,
  mark: row.querySelector('.mark').getBoundingClientRect().left
        - row.querySelector('.bar').getBoundingClientRect().left,
  visible: row.getBoundingClientRect().height > 0})))"""


@pytest.fixture
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    db = Database(f"sqlite:///{tmp_path / 'browser.db'}")
    upgrade_to_head(db.engine)
    svc = Service(ServiceContext(db, Policy(), FrozenClock()))
    seed_month(svc)
    yield svc
    db.dispose()


@pytest.fixture
def base_url(service: Service) -> Iterator[str]:
    with served(create_app(Settings(), service=service)) as url:
        yield url


def test_dashboard_renders_and_bars_match_the_data(
    chromium: str, service: Service, base_url: str, tmp_path: Path,
) -> None:
    report = {s.patient_id: s for s in service.months.report(Month(2026, 11))}

    shot = screenshot(chromium, tmp_path / "profile", f"{base_url}/", tmp_path / "month.png")
    assert png_size(shot) == (1280, 900) and shot.stat().st_size > 20_000
    if os.environ.get("RPM_SAVE_SCREENSHOT"):  # refresh the README's picture on purpose only
        shutil.copyfile(shot, DOCS_SHOT)

    page = Page(dump_dom(chromium, tmp_path / "profile", f"{base_url}/"))
    rows = page.find("tr", class_="patient")
    assert [r.attrs["data-patient"] for r in rows] == ["P-3003", "P-2002", "P-1042", "P-2001"]
    for row in rows:
        assert int(row.attrs["data-seconds"]) == report[row.attrs["data-patient"]].total_seconds
    assert len(page.find("svg", class_="chart")) == 1
    text = " ".join(e.content for e in page.find("body"))
    for digits in RAW_PHONE_DIGITS:
        assert digits not in text

    with devtools(chromium, tmp_path / "devtools") as browser:
        browser.open(f"{base_url}/")
        bars = json.loads(browser.evaluate(BARS_JS))
    assert [b["patient"] for b in bars] == ["P-3003", "P-2002", "P-1042", "P-2001"]
    for bar in bars:
        seconds = report[bar["patient"]].total_seconds
        assert bar["seconds"] == seconds and bar["visible"]
        expected = bar["track"] * min(seconds, TWENTY_MINUTES) / TWENTY_MINUTES
        assert abs(bar["fill"] - expected) <= 1, bar  # drawn width, to the pixel
        assert abs(bar["mark"] - bar["track"] / 2) <= 1.5, bar  # the 10-minute mark
    assert bars[1]["fill"] > 0 and bars[0]["fill"] == 0


def test_staff_filter_in_the_browser(chromium: str, base_url: str, tmp_path: Path) -> None:
    page = Page(dump_dom(chromium, tmp_path / "profile", f"{base_url}/?staff={NURSE}"))
    assert [r.attrs["data-patient"] for r in page.find("tr", class_="patient")] == \
        ["P-2002", "P-1042"]
    assert {r.attrs["data-assigned"] for r in page.find("tr", class_="patient")} == {NURSE}
    form = page.one("form", id="filters")
    assert form.attrs["method"] == "get" and form.attrs["action"] == "/"
    chosen = [o.attrs["value"] for o in page.find("option") if "selected" in o.attrs]
    assert chosen == [NURSE]


def test_patient_page_in_the_browser(chromium: str, base_url: str, tmp_path: Path) -> None:
    shot = screenshot(chromium, tmp_path / "profile", f"{base_url}/patients/P-1042",
                      tmp_path / "patient.png")
    assert png_size(shot) == (1280, 900)
    page = Page(dump_dom(chromium, tmp_path / "profile", f"{base_url}/patients/P-1042"))
    assert page.one("h2", id="patient").attrs["data-seconds"] == "1260"
    assert len(page.find("tr", class_="voided")) == 1
    text = " ".join(e.content for e in page.find("body"))
    for digits in RAW_PHONE_DIGITS:
        assert digits not in text
