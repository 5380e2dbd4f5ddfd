"""deploy/alerts.yml: Prometheus alert rules a clinic must hear about, held to the metrics the
app really exports. The names are read from a real /metrics answer of an app with Slack,
Twilio, reconciliation and a SQLite file, so a renamed metric or a typo in a rule fails here
instead of silently never firing."""

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from rpm_logger.app import create_app
from rpm_logger.wiring import build_service
from service import Service
from store.db import Database
from tests.bot.conftest import SECRET
from tests.fakes.slack_api import SlackApiRecorder
from tests.telephony.conftest import twilio_settings

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "alerts.yml"
# Prometheus's own series, not the app's: a process that answers no scrape has only this
PROMETHEUS_OWN = {"up"}
# the node exporter's (job "node"): the host's disks, for a database the app cannot see
NODE_EXPORTER = {"node_filesystem_avail_bytes", "node_filesystem_size_bytes"}
# PromQL words that are not metric names
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "offset", "inf", "nan"}
_DURATION = re.compile(r"[0-9]+[smhdwy]")


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    assert set(document) == {"groups"}
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert all(group["name"] and group["rules"] for group in document["groups"])
    return rules


def metric_names(expr: str) -> set[str]:
    """The series an expression selects: its identifiers less functions (followed by `(`),
    label matchers, grouping label lists, range durations, numbers and keywords."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings (label values)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = re.findall(r"(?<![\w:.])[A-Za-z_:][\w:]*(?![\w:])(?!\s*\()", text)
    return {name for name in names if name.lower() not in KEYWORDS
            and not re.fullmatch(r"[0-9.e]+", name)}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, migrated_sqlite_file: Path) -> set[str]:
    """Every series name a fully configured app's /metrics names (a family's own name, and
    for a family with no sample yet the names its samples will have)."""
    path = tmp_path_factory.mktemp("alerts") / "rpm.db"
    shutil.copyfile(migrated_sqlite_file, path)
    slack_api = SlackApiRecorder().start()
    settings = twilio_settings(slack_api, slack_signing_secret=SecretStr(SECRET),
                               database_url=f"sqlite:///{path}", reconcile_enabled=True)
    service: Service = build_service(settings, Database(settings.resolved_database_url))
    try:
        with TestClient(create_app(settings, service=service),
                        client=("127.0.0.1", 50000)) as client:
            assert client.get("/healthz").status_code == 200
            scraped = client.get("/metrics")
            assert scraped.status_code == 200
            text = scraped.text
    finally:
        service.ctx.db.dispose()
        slack_api.stop()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                "gauge": ("",), "summary": ("_sum", "_count")}
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


def test_the_rules_file_is_prometheus_rules_with_what_a_person_needs() -> None:
    rules = _rules()
    assert len({rule["alert"] for rule in rules}) == len(rules)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", rule["alert"]), rule["alert"]
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert _DURATION.fullmatch(str(rule.get("for", "0s"))), rule
        assert rule["labels"]["severity"] in ("critical", "warning"), rule
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule


def test_every_rule_names_only_metrics_the_app_exports(exported: set[str]) -> None:
    for rule in _rules():
        names = metric_names(rule["expr"])
        assert names, f"{rule['alert']}: no metric in {rule['expr']!r}"
        unknown = names - exported - PROMETHEUS_OWN - NODE_EXPORTER
        assert unknown == set(), f"{rule['alert']}: {sorted(unknown)} not exported"
    assert "rpm_sqlite_disk_free_bytes" in exported and "rpm_slack_backlog_depth" in exported


def test_the_rules_cover_what_the_clinic_must_hear() -> None:
    """The issue's list, each by the metric that shows it."""
    exprs = " ".join(rule["expr"] for rule in _rules())
    for needed in ('rpm_reminders_total{outcome="failed"}',
                   "rpm_reconcile_last_success_timestamp_seconds", 'status=~"5.."',
                   'rpm_slack_commands_total{outcome="not_saved"}', "rpm_slack_backlog_limit",
                   'route="/healthz"', "rpm_sqlite_disk_free_bytes < 1073741824",
                   "rpm_sqlite_disk_size_bytes < 0.1",
                   "node_filesystem_avail_bytes{job=\"node\""):  # PostgreSQL's disk
        assert needed in exprs, needed


def test_docs_name_every_metric(exported: set[str]) -> None:
    """docs/operations.md: every metric, its labels and meaning."""
    doc = (ROOT / "docs" / "operations.md").read_text()
    ours = {re.sub(r"_(bucket|sum|count)$", "", name) for name in exported
            if name.startswith("rpm_")}
    assert len(ours) >= 14
    assert [name for name in sorted(ours) if f"`{name}`" not in doc] == []


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (instance) (rate(rpm_x_total{route="/a b", status=~"5.."}[5m])) > 0.05',
     {"rpm_x_total"}),
    ("rpm_a >= 0.8 * rpm_b and on (instance) rpm_b > 0", {"rpm_a", "rpm_b"}),
    ("time() - rpm_t > 26 * 3600", {"rpm_t"}),
    ("histogram_quantile(0.99, sum by (le) (rate(rpm_h_bucket[5m]))) > 1.5", {"rpm_h_bucket"}),
])
def test_the_name_reader_reads_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names
