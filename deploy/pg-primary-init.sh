#!/bin/sh
# Runs once when the compose primary's database is created: allows replication connections (the read replica's pg_basebackup and WAL stream) by password.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
