"""Persistence: SQLModel tables, the engine, migrations and the queries the service needs.

Repositories here never commit: the service layer owns each transaction, so a write and its
audit event always land together or not at all.
"""
