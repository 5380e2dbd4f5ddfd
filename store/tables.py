"""The Core tables of the SQLModel schema, by the names store modules use in statements.

SQLModel classes stay the schema (Alembic autogenerates from them); statements in store/
use these Table objects, so rows come back as plain tuples without ORM identity tracking.
"""

from sqlalchemy import Table

from store import models


def _table(model: type) -> Table:
    return model.__table__  # type: ignore[attr-defined,no-any-return]


staff = _table(models.Staff)
staff_phones = _table(models.StaffPhone)
voice_pin_attempts = _table(models.VoicePinAttempt)
patients = _table(models.Patient)
patient_phones = _table(models.PatientPhone)
enrolment_episodes = _table(models.EnrolmentEpisode)
time_entries = _table(models.TimeEntry)
audit_events = _table(models.AuditEvent)
month_close_events = _table(models.MonthCloseEvent)
month_close_lines = _table(models.MonthCloseLine)
reminder_claims = _table(models.ReminderClaim)
slack_contexts = _table(models.SlackContext)
running_timers = _table(models.RunningTimer)
calls = _table(models.Call)
contacts = _table(models.Contact)
voice_sessions = _table(models.VoiceMenuState)
auditor_grants = _table(models.AuditorGrant)
dashboard_keys = _table(models.DashboardKey)
dashboard_sessions = _table(models.DashboardSignIn)
devices = _table(models.Device)
device_readings = _table(models.DeviceReading)
notices = _table(models.Notice)
