-- The exporter's PostgreSQL role: it may log in, read the monitoring views (pg_monitor),
-- SELECT the few cfdb report tables the hub collector aggregates, and list files inside the
-- data directory (the disk collector's WAL archive size); nothing else, no writes.
-- Idempotent. cfha.cf runs it on the active hub as
--   psql -h /tmp -U cfpostgres -d cfdb -v ON_ERROR_STOP=1 -v role=cfha_monitor -f monitor-role.sql
-- and the standby receives all of it through replication.
SELECT format('CREATE ROLE %I LOGIN', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
SELECT format('GRANT pg_monitor TO %I', :'role') \gexec
-- The WAL archive a re-clone copies (data/pg_arch): names and sizes, by pg_ls_dir and
-- pg_stat_file, which a non-superuser may only use inside the data directory.
SELECT format('GRANT EXECUTE ON FUNCTION pg_ls_dir(text, boolean, boolean) TO %I', :'role') \gexec
SELECT format('GRANT EXECUTE ON FUNCTION pg_stat_file(text, boolean) TO %I', :'role') \gexec
-- The tables clusterstate/cfdb_sql.py reads (`status` is __status before CFEngine 3.12.2);
-- whichever of them this cfdb has.
SELECT format('GRANT SELECT ON %s TO %I', c.oid::regclass, :'role')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
  AND c.relname IN ('__hosts', '__agentstatus', '__status', 'status', '__hubconnectionerrors',
                    '__inventory')
  AND c.relkind IN ('r', 'p', 'v', 'm') \gexec
