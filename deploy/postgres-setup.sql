-- rpm-logger's database and role, least privilege (docs/deploy.md, "PostgreSQL"):
--   sudo -u postgres psql -v role=rpm_logger -v db=rpm_logger -f deploy/postgres-setup.sql
-- then give the role its password: sudo -u postgres psql -c '\password rpm_logger'
-- The role logs in and owns the one schema its tables live in; it is no superuser, creates
-- no database and no role, and no other role may connect to the database. The database
-- itself, and its `public` schema, stay the administrator's. Run again with another `db`
-- for a restore's fresh database (the role is made once). The tests' drill runs this file.
\set ON_ERROR_STOP on

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') AS new_role \gset
\if :new_role
CREATE ROLE :"role" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
\endif
CREATE DATABASE :"db" ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";

\connect :"db"
-- nobody creates anything in `public` (PostgreSQL 15 already says so; older ones do not)
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA rpm_logger AUTHORIZATION :"role";
ALTER ROLE :"role" IN DATABASE :"db" SET search_path = rpm_logger;
