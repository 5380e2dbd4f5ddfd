BEGIN TRANSACTION;
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0015');
CREATE TABLE "audit_events" (
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
INSERT INTO "audit_events" VALUES(1,'2026-12-07 15:00:00.000000','cli:root','staff.add','staff','U01NURSE','null','{"slack_user_id": "U01NURSE", "name": "Nina Nurse", "role": "clinical_staff", "npi": null, "is_admin": false, "active": true, "staff_phones": [], "twilio_client": null}',NULL,'5e4030a1db097baa329ec594ece2616e617d73461232e4a9d76ba228c77b91ae');
INSERT INTO "audit_events" VALUES(2,'2026-12-07 15:00:00.000000','cli:root','staff.add','staff','U02DOC','null','{"slack_user_id": "U02DOC", "name": "Dee Doctor", "role": "physician", "npi": "1234567890", "is_admin": false, "active": true, "staff_phones": [], "twilio_client": null}','5e4030a1db097baa329ec594ece2616e617d73461232e4a9d76ba228c77b91ae','19262d973e16174dafd1d94b52aacf63b8d4709a054092959aca8612facac220');
INSERT INTO "audit_events" VALUES(3,'2026-12-07 15:00:00.000000','cli:root','patient.add','patient','P-1042','null','{"patient_id": "P-1042", "initials": "\u0141\u017b", "consent_on": "2026-09-01", "conditions": ["E11.9", "I10"], "provider": "U02DOC", "assigned_to": null, "enrolled_on": "2026-09-01", "ended_on": null, "ordered_by": "U02DOC", "order_on": "2026-09-01", "last_visit_on": null, "episodes": [["2026-09-01", null]], "phones": ["+1******0123"], "caregiver_phones": []}','19262d973e16174dafd1d94b52aacf63b8d4709a054092959aca8612facac220','0ed4cef088ac6a34c3bd9c47053b991e4e4ced26823a77b9f43f3f39a79419f6');
INSERT INTO "audit_events" VALUES(4,'2026-12-07 15:00:00.000000','cli:root','entry.log','entry','1','null','{"id": 1, "patient_id": 1, "staff_id": 1, "started_at": "2026-10-02T14:00:00+00:00", "ended_at": "2026-10-02T14:15:00+00:00", "duration_seconds": 900, "activity": "review", "note": "Reviewed BP log, 3 highs", "source": "cli", "live": false, "clock_timed": true, "staff_role": "clinical_staff", "external_ref": null, "overlaps_entry_id": null, "created_by": "cli:root", "voided_at": null, "voided_by": null, "void_reason": null, "amendment_reason": null, "void_amendment_reason": null}','0ed4cef088ac6a34c3bd9c47053b991e4e4ced26823a77b9f43f3f39a79419f6','734cfd32118e9cdb255979e7a95744a135f5eb438ebcdf689a5956a4971e2a95');
INSERT INTO "audit_events" VALUES(5,'2026-12-07 15:00:00.000000','cli:root','entry.log','entry','2','null','{"id": 2, "patient_id": 1, "staff_id": 1, "started_at": "2026-10-06T15:00:00+00:00", "ended_at": "2026-10-06T15:07:00+00:00", "duration_seconds": 420, "activity": "call", "note": "Discussed readings, dose kept", "source": "cli", "live": true, "clock_timed": true, "staff_role": "clinical_staff", "external_ref": null, "overlaps_entry_id": null, "created_by": "cli:root", "voided_at": null, "voided_by": null, "void_reason": null, "amendment_reason": null, "void_amendment_reason": null}','734cfd32118e9cdb255979e7a95744a135f5eb438ebcdf689a5956a4971e2a95','ae51b5140cc23403f97362d7c49f5830748ecf5da7d3f4a0a10092d7abeb6221');
INSERT INTO "audit_events" VALUES(6,'2026-12-07 15:00:00.000000','cli:root','entry.log','entry','3','null','{"id": 3, "patient_id": 1, "staff_id": 1, "started_at": "2026-10-14T13:30:00+00:00", "ended_at": "2026-10-14T13:42:00+00:00", "duration_seconds": 720, "activity": "review", "note": "Reviewed the week''s readings with the patient: morning systolic 150-162, evening 138-145; cuff size checked (adult large), seated five minutes before each reading; dose kept, recheck in one week. Reviewed the week''s readings with the patient: morning systolic 150-162, evening 138-145; cuff size checked (adult large), seated five minutes before each reading; dose kept, recheck in one week. Reviewed the week''s readings with the patient: morning systolic 150-162, evening 138-145; cuff size checked (adult large), seated five minutes before each reading; dose kept, recheck in one week.", "source": "cli", "live": false, "clock_timed": true, "staff_role": "clinical_staff", "external_ref": null, "overlaps_entry_id": null, "created_by": "cli:root", "voided_at": null, "voided_by": null, "void_reason": null, "amendment_reason": null, "void_amendment_reason": null}','ae51b5140cc23403f97362d7c49f5830748ecf5da7d3f4a0a10092d7abeb6221','09d208bcefbc405b87d0a30b3a366d5b0d45064e0a49a0179d4f03b5c6ce73a5');
INSERT INTO "audit_events" VALUES(7,'2026-12-07 15:00:00.000000','cli:root','entry.log','entry','4','null','{"id": 4, "patient_id": 1, "staff_id": 1, "started_at": "2026-10-15T13:00:00+00:00", "ended_at": "2026-10-15T13:04:00+00:00", "duration_seconds": 240, "activity": "review", "note": "Logged for the wrong patient", "source": "cli", "live": false, "clock_timed": true, "staff_role": "clinical_staff", "external_ref": null, "overlaps_entry_id": null, "created_by": "cli:root", "voided_at": null, "voided_by": null, "void_reason": null, "amendment_reason": null, "void_amendment_reason": null}','09d208bcefbc405b87d0a30b3a366d5b0d45064e0a49a0179d4f03b5c6ce73a5','d0539354c57fe6ddb94cfdf991c3f8c7b7c81026ebc722c8c7909bd2933e761b');
INSERT INTO "audit_events" VALUES(8,'2026-12-07 15:00:00.000000','U01NURSE','entry.void','entry','4','{"id": 4, "patient_id": 1, "staff_id": 1, "started_at": "2026-10-15T13:00:00+00:00", "ended_at": "2026-10-15T13:04:00+00:00", "duration_seconds": 240, "activity": "review", "note": "Logged for the wrong patient", "source": "cli", "live": false, "clock_timed": true, "staff_role": "clinical_staff", "external_ref": null, "overlaps_entry_id": null, "created_by": "cli:root", "voided_at": null, "voided_by": null, "void_reason": null, "amendment_reason": null, "void_amendment_reason": null}','{"id": 4, "patient_id": 1, "staff_id": 1, "started_at": "2026-10-15T13:00:00+00:00", "ended_at": "2026-10-15T13:04:00+00:00", "duration_seconds": 240, "activity": "review", "note": "Logged for the wrong patient", "source": "cli", "live": false, "clock_timed": true, "staff_role": "clinical_staff", "external_ref": null, "overlaps_entry_id": null, "created_by": "cli:root", "voided_at": "2026-12-07T15:00:00+00:00", "voided_by": "U01NURSE", "void_reason": "wrong patient, see P-2000", "amendment_reason": null, "void_amendment_reason": null}','d0539354c57fe6ddb94cfdf991c3f8c7b7c81026ebc722c8c7909bd2933e761b','dd31569b5338a8ecb136ac504663f601969d9329ca2a64818eb348564264a477');
INSERT INTO "audit_events" VALUES(9,'2026-12-07 15:00:00.000000','Ada Admin','month.close','month','2026-10','null','{"month": "2026-10", "closed_by": "Ada Admin", "patients": 1, "units": {"99457": 1}, "amount": "52", "held": {}, "lines": "85e56d4f4fe90752af6ba09b029649a5c2e0ab28df37ddb72c16b46e72e3eec8"}','dd31569b5338a8ecb136ac504663f601969d9329ca2a64818eb348564264a477','5b74c2367d477316b598136229d200bed1508cc25b490cedec5e1e6bf0a36556');
INSERT INTO "audit_events" VALUES(10,'2026-12-07 15:00:00.000000','cli:root','entry.log','entry','5','null','{"id": 5, "patient_id": 1, "staff_id": 1, "started_at": "2026-10-28T14:00:00+00:00", "ended_at": "2026-10-28T14:06:00+00:00", "duration_seconds": 360, "activity": "review", "note": "Paper note found in the chart", "source": "cli", "live": false, "clock_timed": true, "staff_role": "clinical_staff", "external_ref": null, "overlaps_entry_id": null, "created_by": "cli:root", "voided_at": null, "voided_by": null, "void_reason": null, "amendment_reason": "paper note scanned late", "void_amendment_reason": null}','5b74c2367d477316b598136229d200bed1508cc25b490cedec5e1e6bf0a36556','54250d80452f7e551dd49d26e2a9c150215268eda54aea5a3555b4f805ad4d18');
INSERT INTO "audit_events" VALUES(11,'2026-12-07 15:00:00.000000','cli:root','patient.update','patient','P-1042','{"patient_id": "P-1042", "initials": "\u0141\u017b", "consent_on": "2026-09-01", "conditions": ["E11.9", "I10"], "provider": "U02DOC", "assigned_to": null, "enrolled_on": "2026-09-01", "ended_on": null, "ordered_by": "U02DOC", "order_on": "2026-09-01", "last_visit_on": null, "episodes": [["2026-09-01", null]], "phones": ["+1******0123"], "caregiver_phones": []}','{"patient_id": "P-1042", "initials": "\u0141\u017b", "consent_on": "2026-09-01", "conditions": ["E11.9", "I10"], "provider": "U02DOC", "assigned_to": null, "enrolled_on": "2026-09-01", "ended_on": null, "ordered_by": "U02DOC", "order_on": "2026-09-01", "last_visit_on": "2026-08-20", "episodes": [["2026-09-01", null]], "phones": ["+1******0123"], "caregiver_phones": []}','54250d80452f7e551dd49d26e2a9c150215268eda54aea5a3555b4f805ad4d18','bf3295ca2fc8c8b5d827fb1f1720d97da8542cfc93737c2900cc8c2b3dc5d79f');
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
CREATE TABLE enrolment_episodes (
	id INTEGER NOT NULL, 
	patient_id INTEGER NOT NULL, 
	started_on DATE, 
	ended_on DATE, 
	created_at DATETIME NOT NULL, 
	created_by VARCHAR(120) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(patient_id) REFERENCES patients (id)
);
INSERT INTO "enrolment_episodes" VALUES(1,1,'2026-09-01',NULL,'2026-12-07 15:00:00.000000','cli:root');
CREATE TABLE month_close_events (
	id INTEGER NOT NULL, 
	month VARCHAR(7) NOT NULL, 
	action VARCHAR(8) NOT NULL, 
	at DATETIME NOT NULL, 
	"by" VARCHAR(120) NOT NULL, 
	reason VARCHAR(500), 
	record VARCHAR(16), 
	recorded_at DATETIME, audit_head VARCHAR(64), billed BOOLEAN, 
	PRIMARY KEY (id)
);
INSERT INTO "month_close_events" VALUES(1,'2026-10','close','2026-12-07 15:00:00.000000','Ada Admin',NULL,'at_close','2026-12-07 15:00:00.000000','5b74c2367d477316b598136229d200bed1508cc25b490cedec5e1e6bf0a36556',NULL);
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
INSERT INTO "month_close_lines" VALUES(1,1,1,'[["99457", 1]]',2040,1,5200);
CREATE TABLE patient_phones (
	id INTEGER NOT NULL, 
	patient_id INTEGER NOT NULL, 
	e164 VARCHAR(20) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(patient_id) REFERENCES patients (id), 
	UNIQUE (e164)
);
INSERT INTO "patient_phones" VALUES(1,1,'+16175550123','patient');
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
INSERT INTO "patients" VALUES(1,'P-1042','P-1042','ŁŻ','2026-09-01','["E11.9", "I10"]',2,NULL,'2026-09-01',NULL,'2026-12-07 15:00:00.000000',2,'2026-09-01','2026-08-20');
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
INSERT INTO "staff" VALUES(1,'U01NURSE','Nina Nurse','clinical_staff',NULL,NULL,0,1,'2026-12-07 15:00:00.000000',NULL,NULL,NULL);
INSERT INTO "staff" VALUES(2,'U02DOC','Dee Doctor','physician','1234567890',NULL,0,1,'2026-12-07 15:00:00.000000',NULL,NULL,NULL);
CREATE TABLE staff_phones (
	id INTEGER NOT NULL, 
	staff_id INTEGER NOT NULL, 
	e164 VARCHAR(20) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id), 
	UNIQUE (e164)
);
CREATE TABLE "time_entries" (
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
	FOREIGN KEY(patient_id) REFERENCES patients (id), 
	FOREIGN KEY(staff_id) REFERENCES staff (id), 
	UNIQUE (external_ref)
);
INSERT INTO "time_entries" VALUES(1,1,1,'2026-10-02 14:00:00.000000','2026-10-02 14:15:00.000000',900,'review','Reviewed BP log, 3 highs','cli',0,'clinical_staff',NULL,NULL,'2026-12-07 15:00:00.000000','cli:root',NULL,NULL,NULL,NULL,1,NULL);
INSERT INTO "time_entries" VALUES(2,1,1,'2026-10-06 15:00:00.000000','2026-10-06 15:07:00.000000',420,'call','Discussed readings, dose kept','cli',1,'clinical_staff',NULL,NULL,'2026-12-07 15:00:00.000000','cli:root',NULL,NULL,NULL,NULL,1,NULL);
INSERT INTO "time_entries" VALUES(3,1,1,'2026-10-14 13:30:00.000000','2026-10-14 13:42:00.000000',720,'review','Reviewed the week''s readings with the patient: morning systolic 150-162, evening 138-145; cuff size checked (adult large), seated five minutes before each reading; dose kept, recheck in one week. Reviewed the week''s readings with the patient: morning systolic 150-162, evening 138-145; cuff size checked (adult large), seated five minutes before each reading; dose kept, recheck in one week. Reviewed the week''s readings with the patient: morning systolic 150-162, evening 138-145; cuff size checked (adult large), seated five minutes before each reading; dose kept, recheck in one week.','cli',0,'clinical_staff',NULL,NULL,'2026-12-07 15:00:00.000000','cli:root',NULL,NULL,NULL,NULL,1,NULL);
INSERT INTO "time_entries" VALUES(4,1,1,'2026-10-15 13:00:00.000000','2026-10-15 13:04:00.000000',240,'review','Logged for the wrong patient','cli',0,'clinical_staff',NULL,NULL,'2026-12-07 15:00:00.000000','cli:root','2026-12-07 15:00:00.000000','U01NURSE','wrong patient, see P-2000',NULL,1,NULL);
INSERT INTO "time_entries" VALUES(5,1,1,'2026-10-28 14:00:00.000000','2026-10-28 14:06:00.000000',360,'review','Paper note found in the chart','cli',0,'clinical_staff',NULL,NULL,'2026-12-07 15:00:00.000000','cli:root',NULL,NULL,NULL,'paper note scanned late',1,NULL);
CREATE TABLE voice_pin_attempts (
	id INTEGER NOT NULL, 
	staff_id INTEGER NOT NULL, 
	call_sid VARCHAR(64) NOT NULL, 
	at DATETIME NOT NULL, pending BOOLEAN DEFAULT 0 NOT NULL, 
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
CREATE INDEX ix_enrolment_episodes_patient_id ON enrolment_episodes (patient_id);
COMMIT;
