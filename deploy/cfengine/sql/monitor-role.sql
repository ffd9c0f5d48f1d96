-- The exporter's PostgreSQL role: it may log in and read monitoring views (pg_monitor), nothing
-- else. Idempotent. cfha.cf runs it on the active hub as
--   psql -h /tmp -U cfpostgres -d cfdb -v ON_ERROR_STOP=1 -v role=cfha_monitor -f monitor-role.sql
-- and the standby receives the role through replication.
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('GRANT pg_monitor TO %I', :'role') \gexec
