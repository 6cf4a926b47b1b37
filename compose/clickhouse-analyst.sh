#!/bin/bash
# Run once by the ClickHouse image on a fresh data volume (/docker-entrypoint-initdb.d): the user analyst SQL
# (/api/v1/sql) connects as. It may SELECT from runstream's database and nothing else: no other database, no
# writes or DDL, no table functions (file, url, s3, remote: those need grants it does not have), no SYSTEM or KILL.
# runstream still sends readonly=1 and its limits with every query; the user has no readonly profile of its own,
# because readonly=1 on the user would refuse those per-query limits.
set -euo pipefail
clickhouse client --user "${CLICKHOUSE_USER}" --password "${CLICKHOUSE_PASSWORD}" --multiquery <<SQL
CREATE DATABASE IF NOT EXISTS runstream;
CREATE USER IF NOT EXISTS runstream_analyst IDENTIFIED WITH sha256_password BY '${RUNSTREAM_ANALYST_PASSWORD}';
GRANT SELECT ON runstream.* TO runstream_analyst;
SQL
