#!/bin/sh
# temporal-schema (temporalio/admin-tools): applies and upgrades the Temporal server's schemas in
# temporal-db before the server starts. Idempotent: `setup-schema -v 0.0` only initialises the
# version tables of an empty database, and `update-schema` applies the versions not yet applied.
# The databases themselves are created by temporal-db's init script (init-databases.sql).
# Environment: POSTGRES_SEEDS, DB_PORT, POSTGRES_USER, SQL_PASSWORD.
set -eu
schema_root=/etc/temporal/schema/postgresql/v12

sql_tool() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" \
    -u "$POSTGRES_USER" "$@"
}

for pair in temporal:temporal temporal_visibility:visibility; do
  db="${pair%%:*}"
  dir="$schema_root/${pair#*:}/versioned"
  echo "temporal-schema: $db"
  sql_tool --db "$db" setup-schema -v 0.0
  sql_tool --db "$db" update-schema -d "$dir"
done
echo "temporal-schema: done"
