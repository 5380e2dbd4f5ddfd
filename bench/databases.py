"""The benchmarks' throwaway databases: a PostgreSQL database dropped and created afresh."""

from sqlalchemy import create_engine


def recreate_postgres(admin_url: str, name: str) -> None:
    """Drop `name` (closing its connections) and create it empty, through `admin_url`."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
