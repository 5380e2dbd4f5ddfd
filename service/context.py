"""What every service call needs: the database, the clinic's policy and a clock."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.audit_checks import Thresholds
from billing.fees import DEFAULT_FEES
from store.db import Database

Clock = Callable[[], datetime]  # returns zone-aware instants


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Policy:
    """Clinic settings the rules depend on; built from the environment by the app."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/New_York"))
    max_99458_units: int = 3  # CMS practitioner MUE for 99458 (since 2023-07-01)
    max_entry_seconds: int = 240 * 60
    phone_region: str = "US"
    fees: Mapping[str, Decimal] = field(default_factory=lambda: dict(DEFAULT_FEES))
    min_live_call_seconds: int = 30  # shorter calls never count as a live interaction
    audit: Thresholds = field(default_factory=Thresholds)  # the self-audit checks' AUDIT_*


@dataclass(frozen=True)
class ServiceContext:
    db: Database
    policy: Policy = field(default_factory=Policy)
    clock: Clock = utc_now  # passed in so tests freeze time

    def now(self) -> datetime:
        instant = self.clock()
        if instant.tzinfo is None:
            raise ValueError("the clock must return zone-aware datetimes")
        return instant.astimezone(UTC)
