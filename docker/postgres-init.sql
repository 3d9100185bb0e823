-- Runs once, when the postgres container initialises an empty volume (as the superuser).
-- The owner role owns the tables and runs migrations; the app role is what web and workers use:
-- no superuser, no BYPASSRLS, not the owner, so row-level security binds it.
-- These passwords are for the compose demo only; production provisions its own roles and secrets.
CREATE ROLE stepdown_owner LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS PASSWORD 'stepdown_owner';
CREATE ROLE stepdown_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD 'stepdown_app';
CREATE DATABASE stepdown OWNER stepdown_owner;
