"""Every setting comes from the environment (documented with defaults in the README)."""

import re
from datetime import time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from billing.digits import DIGIT
from billing.errors import InvalidInput
from billing.fees import DEFAULT_FEES
from billing.months import clinic_zone

# deploy/rpm-logger.env.example's mark on every value the operator must replace: a secret
# still carrying it is the example's, known to anyone who read the repository
PLACEHOLDER_MARK = "CHANGE-ME"
# a bearer token anyone on the network may try: `openssl rand -hex 32` makes 64 characters
MIN_TOKEN_CHARS = 32


class Settings(BaseSettings):
    """Read once per process through get_settings(); tests build their own."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    database_url: str | None = None
    # how long a SQLite writer waits for the write lock before "database is locked"
    # (store.db.SQLITE_BUSY_TIMEOUT_MS is the same default for a Database built without it)
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0, le=600_000)
    # PostgreSQL (issue 27: a black hole on the database path hung every request): how long
    # a connection, or a free pooled one, is waited for; the longest one statement, lock wait
    # or idle transaction may last on the server (store/postgres.py)
    database_connect_timeout_s: int = Field(default=5, ge=2, le=120)
    database_statement_timeout_ms: int = Field(default=30_000, ge=100, le=3_600_000)
    # /healthz answers within this, 503 "unavailable" when the database has not answered
    healthz_deadline_ms: int = Field(default=1500, ge=500, le=10_000)
    data_dir: Path = Field(default=Path("data"), validation_alias=AliasChoices("RPM_DATA_DIR"))
    # where the Slack commands answered "Saving…" are journaled until confirmed (one file per
    # server process, bot/journal.py); unset: `slack-journal` in the data folder
    slack_journal_dir: Path | None = None
    clinic_timezone: str = "America/New_York"
    cpt_99458_max_units: int = Field(default=3, ge=0, le=10)  # CMS practitioner MUE: 3
    max_entry_minutes: int = Field(default=240, ge=1, le=24 * 60)
    default_phone_region: str = "US"
    log_level: str = "INFO"
    # `serve`'s log lines: text (with timestamps) or one JSON object per line
    log_format: Literal["text", "json"] = "text"
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)
    fee_schedule: dict[str, Decimal] = Field(default_factory=lambda: dict(DEFAULT_FEES))

    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    # the one workspace whose requests are served (unset: any team the app is installed in)
    slack_team_id: str | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    public_base_url: str | None = None
    clinic_fallback_number: str | None = None
    twilio_caller_id: str | None = None  # the clinic Twilio number click-to-call shows
    twilio_api_url: str | None = None  # tests/proxies: base URL instead of api.twilio.com
    # how long a Twilio webhook waits for the database before it answers without it: a
    # call coming in then dials CLINIC_FALLBACK_NUMBER, a callback gets 503 (below 15 s)
    twilio_webhook_deadline_ms: int = Field(default=5000, ge=500, le=12_000)
    min_live_call_seconds: int = Field(default=30, ge=0, le=3600)

    # POST /devices/readings (issue 28): HMAC-SHA256 key of the device vendors' webhook
    # (unset: the route answers 503) and its own body limit instead of MAX_REQUEST_BYTES
    device_webhook_secret: SecretStr | None = None
    device_max_request_bytes: int = Field(default=2 * 1024 * 1024, ge=1024,
                                          le=64 * 1024 * 1024)

    dashboard_token: SecretStr | None = None
    # a signed-in dashboard session (OpenID Connect, an auditor's link) ends after this many
    # minutes without a request (issue 24)
    dashboard_session_minutes: int = Field(default=30, ge=1, le=12 * 60)
    # dashboard sign-in with OpenID Connect (issue 24): any provider by its issuer URL (its
    # discovery document is ISSUER/.well-known/openid-configuration)
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    # /metrics answers loopback clients, and any client bearing this token
    metrics_token: SecretStr | None = None
    reconcile_enabled: bool = True
    reconcile_time: time = time(3, 30)
    reconcile_window_hours: int = Field(default=26, ge=1, le=24 * 30)

    reminders_enabled: bool = True
    reminder_time: time = time(9, 0)
    reminder_start_day: int = Field(default=15, ge=1, le=31)
    reminder_channel: str | None = None

    # voice menu for staff (issue 15): the voice Twilio's <Say> uses (basic or Amazon Polly,
    # both on Twilio's HIPAA-eligible list) and the clinic-wide cap on wrong PINs per hour
    twilio_voice: str = "Polly.Joanna"
    voice_language: str = "en-US"
    voice_wrong_pins_per_hour: int = Field(default=20, ge=1, le=10_000)
    # wrong PINs an hour from one calling number before that number is refused for the hour
    # (issue 27): checked before the clinic-wide cap, so one forged number cannot reach it
    voice_wrong_pins_per_number: int = Field(default=5, ge=1, le=1_000)
    # how long a voice turn waits for a busy database before "not saved, try again": below
    # Twilio's 15 s webhook timeout, so the caller is never told nothing while it lands
    voice_write_deadline_ms: int = Field(default=8000, ge=100, le=12_000)
    # speech for minutes or patient digits heard with less confidence than this is asked again
    voice_min_speech_confidence: float = Field(default=0.5, ge=0, le=1)

    # self-audit checks (issue 16, docs/audit.md)
    audit_heaping_ratio: float = Field(default=3.0, gt=0)
    audit_heaping_months: int = Field(default=12, ge=1, le=60)
    audit_min_note_chars: int = Field(default=10, ge=0, le=2000)
    audit_max_day_hours: float = Field(default=12.0, gt=0, le=24)
    audit_late_days: int = Field(default=7, ge=0, le=366)

    @field_validator("*")
    @classmethod
    def _no_placeholder_secret(cls, value: Any, info: ValidationInfo) -> Any:
        """Every secret (a SecretStr, or DATABASE_URL with its password) still holding the
        example's CHANGE-ME is refused at start, as a too-short dashboard or metrics token:
        the CLI and `serve` both read Settings, so both refuse. The value is never shown."""
        secret = value.get_secret_value() if isinstance(value, SecretStr) else None
        if info.field_name == "database_url" and isinstance(value, str):
            secret = value
        if secret and PLACEHOLDER_MARK in secret:
            raise ValueError(f"still the example's {PLACEHOLDER_MARK} placeholder: set the "
                             "real value")
        if (secret and info.field_name in ("dashboard_token", "metrics_token")
                and len(secret) < MIN_TOKEN_CHARS):
            raise ValueError(f"{len(secret)} characters, {MIN_TOKEN_CHARS} at least: make one "
                             "with `openssl rand -hex 32`")
        return value

    @field_validator("oidc_issuer", "oidc_client_id", mode="before")
    @classmethod
    def _blank_oidc_is_unset(cls, value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value

    @model_validator(mode="after")
    def _whole_oidc(self) -> "Settings":
        """OpenID Connect sign-in needs all three settings and an issuer URL the discovery
        document can be read from (https; http only on loopback, for a local provider):
        a partial or mistyped setup is refused at start (outside try: it started silently
        with sign-in off), naming what is missing, never the secret."""
        secret = self.oidc_client_secret.get_secret_value() if self.oidc_client_secret else ""
        given = {"OIDC_ISSUER": bool(self.oidc_issuer), "OIDC_CLIENT_ID": bool(self.oidc_client_id),
                 "OIDC_CLIENT_SECRET": bool(secret.strip())}
        missing = [name for name, ok in given.items() if not ok]
        if missing and len(missing) < len(given):
            raise ValueError(
                f"dashboard sign-in with OpenID Connect is partly set up: {', '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set (set OIDC_ISSUER, "
                "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET together, or none of them)")
        if self.oidc_issuer and oidc_issuer_host(self.oidc_issuer) is None:
            raise ValueError(
                f"OIDC_ISSUER {self.oidc_issuer[:100]!r} is not an issuer URL: use the "
                "provider's https URL (e.g. https://accounts.google.com), the one its "
                "/.well-known/openid-configuration is under")
        return self

    @field_validator("reminder_time", "reconcile_time", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        """'09:00' or '9:00' (24-hour clock, in CLINIC_TIMEZONE)."""
        if isinstance(value, str):
            match = re.fullmatch(rf"\s*({DIGIT}{{1,2}}):({DIGIT}{{2}})\s*", value)
            if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
                raise ValueError(f"'{value}' is not a time of day: use HH:MM, e.g. 09:00")
            return time(int(match.group(1)), int(match.group(2)))
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_name(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("reminder_channel", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("slack_team_id", mode="before")
    @classmethod
    def _team_id(cls, value: Any) -> Any:
        """A workspace id as Slack shows it ('T0123ABCD'); blank is unset. A wrong shape is
        refused at start: a team check comparing against a typo would refuse everyone."""
        if not isinstance(value, str) or not value.strip():
            return None if isinstance(value, str) else value
        value = value.strip()
        if not re.fullmatch(r"T[A-Z0-9]{1,30}", value):
            raise ValueError(f"'{value}' is not a Slack team id: a workspace id starts with T "
                             "(e.g. T0123ABCD; Slack shows it in the web client's URL)")
        return value

    @field_validator("twilio_voice")
    @classmethod
    def _hipaa_eligible_voice(cls, value: str) -> str:
        """Only Twilio's basic voices and Amazon Polly are covered by Twilio's BAA."""
        value = value.strip()
        if value in ("man", "woman", "alice") or re.fullmatch(r"Polly\.[A-Za-z-]+", value):
            return value
        raise ValueError(f"'{value}' is not a HIPAA-eligible Twilio voice: use man, woman, "
                         "alice or an Amazon Polly voice such as Polly.Joanna")

    @field_validator("clinic_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            clinic_zone(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("fee_schedule")
    @classmethod
    def _known_codes(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        unknown = set(value) - set(DEFAULT_FEES)
        if unknown:
            raise ValueError(f"unknown CPT codes {sorted(unknown)}; known: {sorted(DEFAULT_FEES)}")
        if any(amount < 0 for amount in value.values()):
            raise ValueError("fees cannot be negative")
        return {**DEFAULT_FEES, **value}

    @property
    def resolved_database_url(self) -> str:
        """DATABASE_URL, else a SQLite file in the data folder (created on first use)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'rpm-logger.db').resolve()}"

    @property
    def resolved_slack_journal_dir(self) -> Path:
        """SLACK_JOURNAL_DIR, else `slack-journal` beside the default SQLite file."""
        return self.slack_journal_dir or self.data_dir / "slack-journal"

    @property
    def slack_configured(self) -> bool:
        return bool(self.slack_signing_secret and self.slack_bot_token)

    def click_to_call_missing(self) -> tuple[str, ...]:
        """The settings click-to-call still needs, by their environment names (so a refusal
        names only what is unset)."""
        values = {"TWILIO_ACCOUNT_SID": self.twilio_account_sid,
                  "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
                  "PUBLIC_BASE_URL": self.public_base_url,
                  "TWILIO_CALLER_ID": self.twilio_caller_id}
        return tuple(name for name, value in values.items() if not value)

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_auth_token and self.twilio_account_sid and self.public_base_url)

    @property
    def oidc_configured(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)


def oidc_issuer_host(issuer: str) -> str | None:
    """The host of an OIDC issuer URL (https, or http on a loopback host), or None when it is
    not one (no scheme or host, a query, a fragment, credentials)."""
    try:
        url = urlsplit(issuer.strip())
        host = url.hostname
        url.port  # noqa: B018 (a port that is not a number raises)
    except ValueError:
        return None
    if not host or url.query or url.fragment or url.username or url.password:
        return None
    loopback = host in ("localhost", "127.0.0.1", "::1")
    if url.scheme == "https" or (url.scheme == "http" and loopback):
        return host
    return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
