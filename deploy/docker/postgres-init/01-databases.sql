-- Run once by the postgres image's entrypoint (psql, as the superuser) on an
-- empty data directory. Creates the application role and one database per
-- service; each service owns its database and nothing else.
-- Written to be idempotent so it can also be replayed by hand.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sunshine') THEN
        CREATE ROLE sunshine WITH LOGIN PASSWORD 'sunshine';
    END IF;
END
$$;

-- CREATE DATABASE cannot run inside a DO block or a transaction: build the
-- statements with SELECT and let psql's \gexec run the ones still needed.
SELECT format('CREATE DATABASE %I OWNER sunshine', db)
FROM unnest(ARRAY['donation', 'warehouse', 'notification']) AS db
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = db)
\gexec

GRANT ALL PRIVILEGES ON DATABASE donation TO sunshine;
GRANT ALL PRIVILEGES ON DATABASE warehouse TO sunshine;
GRANT ALL PRIVILEGES ON DATABASE notification TO sunshine;
