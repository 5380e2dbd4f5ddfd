"""Builds the service from settings; the CLI and the ASGI lifespan both start here."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from billing.audit_checks import Thresholds
from billing.months import clinic_zone
from configuration.settings import Settings, oidc_issuer_host
from service import Service, ServiceContext
from service.context import Clock, Policy, utc_now
from store.db import Database, sqlite_files
from store.migrate import upgrade_to_head
from store.postgres import Timeouts

log = logging.getLogger("rpm_logger")


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The database at DATABASE_URL (or the SQLite default), brought to the newest schema."""
    db = Database(settings.resolved_database_url,
                  sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
                  timeouts=Timeouts(connect_s=settings.database_connect_timeout_s,
                                    statement_ms=settings.database_statement_timeout_ms))
    if migrate:
        upgrade_to_head(db.engine)
    return db


def database_files(settings: Settings) -> list[Path]:
    """The files of the configured SQLite database (none on PostgreSQL): a file the CLI
    writes on request (`audit packet --out`) must never replace one of them."""
    return sqlite_files(settings.resolved_database_url)


@contextmanager
def restore_target(settings: Settings) -> Iterator[Database]:
    """The database a restore goes into, as it is (not migrated: the restore brings it to
    the archive's revision itself), disposed after. A SQLite file that did not exist before
    is removed again when the restore does not complete: a refusal leaves nothing behind."""
    files = database_files(settings)
    new = bool(files) and not files[0].exists()
    db = open_database(settings, migrate=False)
    try:
        yield db
    except BaseException:
        db.dispose()
        if new:
            for file in files:
                file.unlink(missing_ok=True)
        raise
    finally:
        db.dispose()


def build_service(settings: Settings, db: Database | None = None, *,
                  clock: Clock | None = None) -> Service:
    """The service on the real clock unless one is given (tests freeze it); closes made before
    close records existed get theirs rebuilt first (migration 0008 marks them pending; one
    query when there are none)."""
    service = Service(ServiceContext(db or open_database(settings), policy(settings),
                                     clock or utc_now))
    service.closes.reconstruct_pending()
    return service


def policy(settings: Settings) -> Policy:
    """The clinic's rules settings as the service takes them."""
    return Policy(
        zone=clinic_zone(settings.clinic_timezone),
        max_99458_units=settings.cpt_99458_max_units,
        max_entry_seconds=settings.max_entry_minutes * 60,
        phone_region=settings.default_phone_region.upper(),
        fees=settings.fee_schedule,
        min_live_call_seconds=settings.min_live_call_seconds,
        audit=Thresholds(heaping_ratio=settings.audit_heaping_ratio,
                         heaping_months=settings.audit_heaping_months,
                         min_note_chars=settings.audit_min_note_chars,
                         max_day_hours=settings.audit_max_day_hours,
                         late_days=settings.audit_late_days),
    )


def describe_configuration(settings: Settings) -> list[str]:
    """Start-up lines saying what is configured and how to set the rest (no secrets)."""
    lines = [f"database: {_redacted_url(settings.resolved_database_url)}",
             f"clinic time zone: {settings.clinic_timezone}"]
    if settings.slack_configured:
        team = (f"team {settings.slack_team_id} only" if settings.slack_team_id
                else "any team; set SLACK_TEAM_ID to serve one workspace")
        lines.append(f"slack: configured (API at {settings.slack_api_url}; {team})")
    else:
        lines.append("slack: not configured; set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN "
                     "to enable /slack/events")
    lines.append(_reminders_line(settings))
    if settings.twilio_configured:
        lines.append("twilio: configured")
    else:
        lines.append("twilio: not configured; set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                     "PUBLIC_BASE_URL to enable /twilio/*")
    if settings.dashboard_token:
        lines.append("dashboard: at / (DASHBOARD_TOKEN set: token or its cookie required)")
    else:
        lines.append("dashboard: at / for loopback clients, who are admins without a sign-in "
                     "cookie (no DASHBOARD_TOKEN set); set DASHBOARD_TOKEN to open it from "
                     "other machines")
    lines.append(_sign_in_line(settings))
    return lines


def _sign_in_line(settings: Settings) -> str:
    """Whether per-person dashboard sign-in is on, and with which provider (its issuer's
    host only: never the client id's secret)."""
    if settings.oidc_configured and settings.oidc_issuer:
        host = oidc_issuer_host(settings.oidc_issuer)
        return (f"dashboard sign-in: OpenID Connect with issuer {host} at /sign-in "
                f"(sessions end after {settings.dashboard_session_minutes} idle minutes)")
    return ("dashboard sign-in: off; set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET "
            "for per-person sign-in (docs/security.md)")


def _reminders_line(settings: Settings) -> str:
    if not settings.reminders_enabled:
        return "reminders: off (REMINDERS_ENABLED=false)"
    if not settings.slack_bot_token:
        return "reminders: not started; set SLACK_BOT_TOKEN to send at-risk reminders"
    channel = settings.reminder_channel or "none (set REMINDER_CHANNEL for the daily summary)"
    if channel.startswith("#"):
        channel += " (use the channel id, e.g. C0123ABCD: the history check needs it)"
    return (f"reminders: daily at {settings.reminder_time:%H:%M} {settings.clinic_timezone} "
            f"from day {settings.reminder_start_day}; channel: {channel}")


def redacted_database_url(settings: Settings) -> str:
    return _redacted_url(settings.resolved_database_url)


def _redacted_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
