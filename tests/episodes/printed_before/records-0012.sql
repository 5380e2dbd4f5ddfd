PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version VALUES('0012');
CREATE TABLE staff (
	id INTEGER NOT NULL, 
	slack_user_id VARCHAR(32) NOT NULL, 
	name VARCHAR(200) NOT NULL, 
	role VARCHAR(32) NOT NULL, 
	npi VARCHAR(10), 
	twilio_client VARCHAR(120), 
	is_admin BOOLEAN NOT NULL, 
	active BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, voice_pin_hash VARCHAR(200), voice_locked_until DATETIME, voice_cleared_at DATETIME, 
	PRIMARY KEY (id), 
	UNIQUE (slack_user_id), 
	UNIQUE (twilio_client)
);
INSERT INTO staff VALUES(1,'U01NURSE','Nina Nurse','clinical_staff',NULL,NULL,0,1,'2026-12-07 14:33:17.723165',NULL,NULL,NULL);
INSERT INTO staff VALUES(2,'U02DOC','Dee Doctor','physician','1234567890',NULL,0,1,'2026-12-07 14:33:23.124637',NULL,NULL,NULL);
CREATE TABLE patients (
	id INTEGER NOT NULL, 
	clinic_id VARCHAR(64) NOT NULL, 
	clinic_key VARCHAR(64) NOT NULL, 
	initials VARCHAR(8), 
	consent_on DATE, 
	conditions JSON NOT NULL, 
	provider_id INTEGER, 
	assigned_staff_id INTEGER, 
	enrolled_on DATE, 
	ended_on DATE, 
	created_at DATETIME NOT NULL, ordering_provider_id INTEGER, order_on DATE, last_visit_on DATE, 
	PRIMARY KEY (id), 
	FOREIGN KEY(assigned_staff_id) REFERENCES staff (id), 
	FOREIGN KEY(provider_id) REFERENCES staff (id), 
	UNIQUE (clinic_key)
);
INSERT INTO patients VALUES(1,'P-1042','P-1042','JD','2026-09-01','["I10"]',2,NULL,'2026-09-01',NULL,'2026-12-07 14:33:28.340661',2,'2026-09-01',NULL);
CREATE TABLE staff_phones (
	id INTEGER NOT NULL, 
	staff_id INTEGER NOT NULL, 
	e164 VARCHAR(20) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id), 
	UNIQUE (e164)
);
CREATE TABLE patient_phones (
	id INTEGER NOT NULL, 
	patient_id INTEGER NOT NULL, 
	e164 VARCHAR(20) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(patient_id) REFERENCES patients (id), 
	UNIQUE (e164)
);
CREATE TABLE slack_contexts (
	id INTEGER NOT NULL, 
	scope VARCHAR(16) NOT NULL, 
	scope_id VARCHAR(32) NOT NULL, 
	patient_id INTEGER NOT NULL, 
	set_by VARCHAR(32) NOT NULL, 
	set_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(patient_id) REFERENCES patients (id), 
	CONSTRAINT uq_slack_contexts_scope UNIQUE (scope, scope_id)
);
CREATE TABLE running_timers (
	id INTEGER NOT NULL, 
	staff_id INTEGER NOT NULL, 
	patient_id INTEGER NOT NULL, 
	activity VARCHAR(32) NOT NULL, 
	started_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(patient_id) REFERENCES patients (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id), 
	UNIQUE (staff_id)
);
CREATE TABLE contacts (
	id INTEGER NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	external_ref VARCHAR(64) NOT NULL, 
	from_number VARCHAR(140), 
	to_number VARCHAR(140), 
	patient_id INTEGER, 
	matched_kind VARCHAR(16), 
	staff_id INTEGER, 
	received_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(patient_id) REFERENCES patients (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id), 
	UNIQUE (external_ref)
);
CREATE TABLE calls (
	id INTEGER NOT NULL, 
	call_sid VARCHAR(64) NOT NULL, 
	parent_call_sid VARCHAR(64), 
	account_sid VARCHAR(64), 
	direction VARCHAR(32), 
	from_number VARCHAR(140), 
	to_number VARCHAR(140), 
	status VARCHAR(32) NOT NULL, 
	answered_by VARCHAR(32), 
	duration_seconds INTEGER, 
	sequence_number INTEGER NOT NULL, 
	event_at DATETIME, 
	started_at DATETIME NOT NULL, 
	ended_at DATETIME, 
	patient_id INTEGER, 
	matched_kind VARCHAR(16), 
	staff_id INTEGER, 
	bridged BOOLEAN NOT NULL, 
	screened VARCHAR(16), 
	state VARCHAR(16) NOT NULL, 
	state_reason VARCHAR(200), 
	confirmed_by VARCHAR(120), 
	after_close BOOLEAN NOT NULL, 
	entry_id INTEGER, 
	note VARCHAR(2000), 
	source VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(entry_id) REFERENCES time_entries (id), 
	FOREIGN KEY(patient_id) REFERENCES patients (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id), 
	UNIQUE (call_sid)
);
CREATE TABLE reminder_claims (
	id INTEGER NOT NULL, 
	claim_id VARCHAR(36) NOT NULL, 
	recipient VARCHAR(80) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	day DATE NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	attempts INTEGER NOT NULL, 
	patients INTEGER NOT NULL, 
	first_claimed_at DATETIME NOT NULL, 
	claimed_at DATETIME NOT NULL, 
	claimed_by VARCHAR(120) NOT NULL, 
	sent_at DATETIME, 
	slack_channel VARCHAR(32), 
	slack_ts VARCHAR(32), 
	last_error VARCHAR(300), 
	PRIMARY KEY (id), 
	UNIQUE (claim_id), 
	CONSTRAINT uq_reminder_claims_recipient_day UNIQUE (recipient, day)
);
CREATE TABLE IF NOT EXISTS "time_entries" (
	id INTEGER NOT NULL, 
	patient_id INTEGER NOT NULL, 
	staff_id INTEGER NOT NULL, 
	started_at DATETIME NOT NULL, 
	ended_at DATETIME NOT NULL, 
	duration_seconds INTEGER NOT NULL, 
	activity VARCHAR(32) NOT NULL, 
	note VARCHAR(2000), 
	source VARCHAR(16) NOT NULL, 
	live BOOLEAN NOT NULL, 
	staff_role VARCHAR(32) NOT NULL, 
	external_ref VARCHAR(64), 
	overlaps_entry_id INTEGER, 
	created_at DATETIME NOT NULL, 
	created_by VARCHAR(120) NOT NULL, 
	voided_at DATETIME, 
	voided_by VARCHAR(120), 
	void_reason VARCHAR(500), 
	amendment_reason VARCHAR(500), 
	clock_timed BOOLEAN DEFAULT 0 NOT NULL, void_amendment_reason VARCHAR(500), 
	PRIMARY KEY (id), 
	UNIQUE (external_ref), 
	FOREIGN KEY(patient_id) REFERENCES patients (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id)
);
INSERT INTO time_entries VALUES(1,1,1,'2026-10-02 14:00:00.000000','2026-10-02 14:15:00.000000',900,'review','Reviewed BP log, 3 highs','cli',0,'clinical_staff',NULL,NULL,'2026-12-07 14:33:33.966398','U01NURSE',NULL,NULL,NULL,NULL,1,NULL);
INSERT INTO time_entries VALUES(2,1,1,'2026-10-06 15:00:00.000000','2026-10-06 15:07:00.000000',420,'call','Discussed readings','cli',1,'clinical_staff',NULL,NULL,'2026-12-07 14:33:40.386242','U01NURSE',NULL,NULL,NULL,NULL,1,NULL);
CREATE TABLE month_close_events (
	id INTEGER NOT NULL, 
	month VARCHAR(7) NOT NULL, 
	action VARCHAR(8) NOT NULL, 
	at DATETIME NOT NULL, 
	"by" VARCHAR(120) NOT NULL, 
	reason VARCHAR(500), 
	record VARCHAR(16), 
	recorded_at DATETIME, audit_head VARCHAR(64), 
	PRIMARY KEY (id)
);
CREATE TABLE month_close_lines (
	id INTEGER NOT NULL, 
	event_id INTEGER NOT NULL, 
	patient_id INTEGER NOT NULL, 
	codes JSON NOT NULL, 
	total_seconds INTEGER NOT NULL, 
	live_interactions INTEGER NOT NULL, 
	expected_cents INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(event_id) REFERENCES month_close_events (id), 
	FOREIGN KEY(patient_id) REFERENCES patients (id), 
	CONSTRAINT uq_month_close_lines_event_patient UNIQUE (event_id, patient_id)
);
CREATE TABLE voice_pin_attempts (
	id INTEGER NOT NULL, 
	staff_id INTEGER NOT NULL, 
	call_sid VARCHAR(64) NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id)
);
CREATE TABLE voice_sessions (
	id INTEGER NOT NULL, 
	call_sid VARCHAR(64) NOT NULL, 
	staff_id INTEGER NOT NULL, 
	turn INTEGER NOT NULL, 
	step VARCHAR(16) NOT NULL, 
	tries INTEGER NOT NULL, 
	data JSON NOT NULL, 
	reply JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id), 
	UNIQUE (call_sid)
);
CREATE TABLE IF NOT EXISTS "audit_events" (
	id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	actor VARCHAR(120) NOT NULL, 
	action VARCHAR(64) NOT NULL, 
	entity VARCHAR(32) NOT NULL, 
	entity_id VARCHAR(64) NOT NULL, 
	"before" JSON, 
	"after" JSON, 
	prev_hash VARCHAR(64), 
	hash VARCHAR(64) NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO audit_events VALUES(1,'2026-12-07 14:33:17.724348','cli:root','staff.add','staff','U01NURSE','null','{"slack_user_id": "U01NURSE", "name": "Nina Nurse", "role": "clinical_staff", "npi": null, "is_admin": false, "active": true, "staff_phones": [], "twilio_client": null}',NULL,'46b2c8c1cdcabaa595589c593ded799b58825d5e1e184c9d88b4eddf6cb5b752');
INSERT INTO audit_events VALUES(2,'2026-12-07 14:33:23.135223','cli:root','staff.add','staff','U02DOC','null','{"slack_user_id": "U02DOC", "name": "Dee Doctor", "role": "physician", "npi": "1234567890", "is_admin": false, "active": true, "staff_phones": [], "twilio_client": null}','46b2c8c1cdcabaa595589c593ded799b58825d5e1e184c9d88b4eddf6cb5b752','ba7a6739e543eb907272bacbcb75240cd8f6597ef6549daba94f8f8e3ae1c84f');
INSERT INTO audit_events VALUES(3,'2026-12-07 14:33:28.347206','cli:root','patient.add','patient','P-1042','null','{"patient_id": "P-1042", "initials": "JD", "consent_on": "2026-09-01", "conditions": ["I10"], "provider": "U02DOC", "assigned_to": null, "enrolled_on": "2026-09-01", "ended_on": null, "ordered_by": "U02DOC", "order_on": "2026-09-01", "last_visit_on": null, "phones": [], "caregiver_phones": []}','ba7a6739e543eb907272bacbcb75240cd8f6597ef6549daba94f8f8e3ae1c84f','eeafed0107653fd70b2432de64cbadfcc16ff5030c36f4f41e344d59f938d1e6');
INSERT INTO audit_events VALUES(4,'2026-12-07 14:33:33.966398','U01NURSE','entry.log','entry','1','null','{"id": 1, "patient_id": 1, "staff_id": 1, "started_at": "2026-10-02T14:00:00+00:00", "ended_at": "2026-10-02T14:15:00+00:00", "duration_seconds": 900, "activity": "review", "note": "Reviewed BP log, 3 highs", "source": "cli", "live": false, "clock_timed": true, "staff_role": "clinical_staff", "external_ref": null, "overlaps_entry_id": null, "created_by": "U01NURSE", "voided_at": null, "voided_by": null, "void_reason": null, "amendment_reason": null, "void_amendment_reason": null}','eeafed0107653fd70b2432de64cbadfcc16ff5030c36f4f41e344d59f938d1e6','49ebcca97eec7293f4780dec5850996a213daecebf3f16840f4a357aa6e9c1fd');
INSERT INTO audit_events VALUES(5,'2026-12-07 14:33:40.386242','U01NURSE','entry.log','entry','2','null','{"id": 2, "patient_id": 1, "staff_id": 1, "started_at": "2026-10-06T15:00:00+00:00", "ended_at": "2026-10-06T15:07:00+00:00", "duration_seconds": 420, "activity": "call", "note": "Discussed readings", "source": "cli", "live": true, "clock_timed": true, "staff_role": "clinical_staff", "external_ref": null, "overlaps_entry_id": null, "created_by": "U01NURSE", "voided_at": null, "voided_by": null, "void_reason": null, "amendment_reason": null, "void_amendment_reason": null}','49ebcca97eec7293f4780dec5850996a213daecebf3f16840f4a357aa6e9c1fd','4673c37a9b9d9833da2fdebe782cf89caeb6eba488ffa4526561ca835259ce21');
CREATE INDEX ix_patients_assigned_staff_id ON patients (assigned_staff_id);
CREATE INDEX ix_staff_phones_staff_id ON staff_phones (staff_id);
CREATE INDEX ix_patient_phones_patient_id ON patient_phones (patient_id);
CREATE INDEX ix_contacts_patient_id ON contacts (patient_id);
CREATE INDEX ix_calls_parent_call_sid ON calls (parent_call_sid);
CREATE INDEX ix_calls_patient_id ON calls (patient_id);
CREATE INDEX ix_calls_staff_id ON calls (staff_id);
CREATE INDEX ix_calls_started ON calls (started_at);
CREATE INDEX ix_calls_state ON calls (state);
CREATE INDEX ix_reminder_claims_day ON reminder_claims (day);
CREATE INDEX ix_time_entries_staff_started ON time_entries (staff_id, started_at);
CREATE INDEX ix_time_entries_started ON time_entries (started_at);
CREATE INDEX ix_time_entries_patient_month ON time_entries (patient_id, started_at, ended_at, voided_at, staff_role, live, clock_timed, duration_seconds, staff_id, overlaps_entry_id);
CREATE INDEX ix_month_close_events_month ON month_close_events (month, id);
CREATE INDEX ix_voice_pin_attempts_at ON voice_pin_attempts (at);
CREATE INDEX ix_voice_pin_attempts_staff_at ON voice_pin_attempts (staff_id, at);
CREATE INDEX ix_voice_pin_attempts_call ON voice_pin_attempts (call_sid);
CREATE INDEX ix_voice_sessions_expires_at ON voice_sessions (expires_at);
CREATE INDEX ix_audit_events_entity ON audit_events (entity, entity_id);
CREATE UNIQUE INDEX uq_audit_events_prev_hash ON audit_events (prev_hash);
COMMIT;
