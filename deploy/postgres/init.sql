-- Distributed mode: one database and one login role per app, so no app can open another's database.
--
-- The postgres image runs this file once, as the superuser, when its data volume is first created (later changes
-- here or to the passwords have no effect on an existing volume). Passwords come from the container's environment
-- through psql's \getenv (PostgreSQL 15+); docker-compose.yml sets them, with sandbox placeholders as defaults.
-- A missing variable leaves its psql variable unset, and the CREATE ROLE below then fails: nothing is created with
-- an empty password. Each app creates its own schema (named after the app) inside its database on first migration.
-- All data in the sandbox is synthetic.

\set ON_ERROR_STOP on

\getenv gateway_password DPI_PG_GATEWAY_PASSWORD
\getenv identity_password DPI_PG_IDENTITY_PASSWORD
\getenv payments_password DPI_PG_PAYMENTS_PASSWORD
\getenv consent_password DPI_PG_CONSENT_PASSWORD
\getenv exchange_password DPI_PG_EXCHANGE_PASSWORD

CREATE ROLE "gateway" LOGIN PASSWORD :'gateway_password';
CREATE DATABASE "gateway" OWNER "gateway";
REVOKE ALL ON DATABASE "gateway" FROM PUBLIC;

CREATE ROLE "identity" LOGIN PASSWORD :'identity_password';
CREATE DATABASE "identity" OWNER "identity";
REVOKE ALL ON DATABASE "identity" FROM PUBLIC;

CREATE ROLE "payments" LOGIN PASSWORD :'payments_password';
CREATE DATABASE "payments" OWNER "payments";
REVOKE ALL ON DATABASE "payments" FROM PUBLIC;

CREATE ROLE "consent" LOGIN PASSWORD :'consent_password';
CREATE DATABASE "consent" OWNER "consent";
REVOKE ALL ON DATABASE "consent" FROM PUBLIC;

CREATE ROLE "exchange" LOGIN PASSWORD :'exchange_password';
CREATE DATABASE "exchange" OWNER "exchange";
REVOKE ALL ON DATABASE "exchange" FROM PUBLIC;
