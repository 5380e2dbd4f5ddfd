"""Issue 26 #10 through the service on both databases: the dashboard shows a returning
patient's episodes, every screen counts the same time for them (report, status, risk scan,
dashboard rows), and refused episode writes change nothing."""

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from fastapi.testclient import TestClient

from billing.months import Month
from configuration.settings import Settings
from rpm_logger.app import create_app
from service import Service
from service.errors import BadInput
from service.patients import PatientFields
from tests.conftest import FrozenClock
from tests.service.helpers import DOCTOR, log, seed
from tests.web.support import TOKEN, Page

NOV = Month(2026, 11)


@pytest.fixture
def returning(svc: Service, clock: FrozenClock) -> Service:
    """P-100: enrolled from September, ended on 10 November, back from 20 November; 15
    minutes on the 5th (a call), 10 on the 12th (between), 10 on the 25th (clock in Dec)."""
    seed(svc)
    svc.patients.add("P-100", PatientFields(
        initials="AB", consent_on=date(2026, 9, 1), enrolled_on=date(2026, 9, 1),
        ordered_by=DOCTOR, order_on=date(2026, 9, 1)), actor="test")
    clock.now = datetime(2026, 12, 7, 15, tzinfo=UTC)
    for day, minutes, activity in ((5, "15m", "call"), (12, "10m", "review")):
        log(svc, minutes, activity, patient="P-100",
            started_at=datetime(2026, 11, day, 15, tzinfo=UTC))
    svc.patients.end("P-100", on=date(2026, 11, 10), actor="test")
    svc.patients.enrol("P-100", on=date(2026, 11, 20), actor="test")
    log(svc, "10m", "review", patient="P-100", started_at=datetime(2026, 11, 25, 15, tzinfo=UTC))
    return svc


def test_every_screen_counts_the_time_inside_the_episodes(returning: Service) -> None:
    svc = returning
    status = svc.months.summary("P-100", NOV)
    report = {s.patient_id: s for s in svc.months.report(NOV)}["P-100"]
    assert status.total_seconds == report.total_seconds == 25 * 60
    assert status.not_counted_seconds == report.not_counted_seconds == 600
    assert status.codes == report.codes and status.live_interactions == 1
    risk = {r.summary.patient_id: r for r in svc.months.with_risk(NOV, date(2026, 11, 5))}
    # on the 5th: the first episode's 6 days left (5th to 10th) and the second's 11
    assert risk["P-100"].risk.days_left == 6 + 11
    risk = {r.summary.patient_id: r for r in svc.months.with_risk(NOV, date(2026, 11, 15))}
    assert risk["P-100"].risk.days_left == 11  # between the episodes
    fast = {r.summary.patient_id: r.summary.total_seconds
            for r in svc.months.at_risk(NOV, date(2026, 11, 15))}
    slow = {r.summary.patient_id: r.summary.total_seconds
            for r in svc.months.with_risk(NOV, date(2026, 11, 15)) if r.risk.still_to_win}
    assert fast == slow


def test_refused_episode_writes_change_nothing(returning: Service) -> None:
    svc = returning
    before = svc.patients.get("P-100")
    assert before.episodes == ((date(2026, 9, 1), date(2026, 11, 10)),
                               (date(2026, 11, 20), None))
    with pytest.raises(BadInput, match="has not ended"):
        svc.patients.enrol("P-100", on=date(2026, 12, 1), actor="test")
    with pytest.raises(BadInput, match="previous episode"):
        svc.patients.update("P-100", PatientFields(enrolled_on=date(2026, 11, 1)),
                            actor="test")
    with pytest.raises(BadInput, match="before enrolment"):
        svc.patients.end("P-100", on=date(2026, 11, 15), actor="test")
    assert svc.patients.get("P-100") == before
    # the current episode's own edits still work
    svc.patients.update("P-100", PatientFields(enrolled_on=date(2026, 11, 18)), actor="test")
    assert svc.patients.get("P-100").episodes[-1] == (date(2026, 11, 18), None)


@pytest.fixture
def client(returning: Service) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(dashboard_token=TOKEN), service=returning),
                    headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
        yield test_client


def test_the_dashboard_shows_the_episodes_and_counts_as_the_report(
        client: TestClient, returning: Service) -> None:
    page = client.get("/patients/P-100", params={"month": "2026-11"})
    assert page.status_code == 200
    episodes = Page(page.text).one("dd", id="episodes").content
    assert episodes == "2026-09-01 to 2026-11-10; 2026-11-20 to ongoing"
    rows = {r.attrs["data-patient"]: r.attrs for r in
            Page(client.get("/", params={"month": "2026-11"}).text).find("tr", class_="patient")}
    assert int(rows["P-100"]["data-seconds"]) == 25 * 60


def test_a_return_is_a_new_enrolment_of_its_month(returning: Service) -> None:
    """The self-audit's enrolment count (enrolment_spike): P-100's first episode began in
    September and its second in November; P-1042 (no enrolment date) was added in November."""
    from store.audit_checks import SPANS, MonthSpan, new_enrolments

    zone = returning.ctx.policy.zone
    months = [Month(2026, 11), Month(2026, 10), Month(2026, 9), Month(2026, 8)]
    spans = [MonthSpan(m.first_day, m.last_day, *m.bounds_utc(zone)) for m in months]
    assert len(spans) == SPANS
    with returning.ctx.db.read() as conn:
        assert new_enrolments(conn, spans) == (2, 0, 1, 0)
