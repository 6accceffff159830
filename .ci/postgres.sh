#!/usr/bin/env bash
# Start a local PostgreSQL 15 cluster and create the guide's role and database, idempotently:
#   DATABASE_URL=postgresql://trading_bot:dev_password_123@localhost:5432/ai_trading_bot
# Always exits 0: when the server cannot be set up it says why, and the `postgres` tests skip with a reason.
set -u

PG_VERSION="${PG_VERSION:-15}"
PG_CLUSTER="${PG_CLUSTER:-main}"
PG_PORT="${PG_PORT:-5432}"
DB_USER="trading_bot"
DB_PASSWORD="dev_password_123"
DB_NAME="ai_trading_bot"

say() { echo "postgres.sh: $*"; }
give_up() { say "$* -- the postgres tests will be skipped"; exit 0; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

as_postgres() {
    if [ "$(id -un)" = "postgres" ]; then "$@"
    elif [ "$(id -u)" -eq 0 ]; then su postgres -c "$(printf '%q ' "$@")"
    else sudo -n -u postgres "$@"
    fi
}

psql_admin() { as_postgres psql --no-psqlrc -v ON_ERROR_STOP=1 -p "$PG_PORT" -qtA "$@"; }

# 1. The server binaries (Debian/Ubuntu packages).
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    say "installing postgresql with apt-get"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
        && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
        || give_up "could not install postgresql (no apt-get, no root, or no network)"
    command -v pg_ctlcluster >/dev/null 2>&1 || give_up "postgresql installed but pg_ctlcluster is missing"
fi

# 2. A cluster to run (the package creates one; a different major version is fine).
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$PG_VERSION $PG_CLUSTER"; then
    other=$(pg_lsclusters -h 2>/dev/null | awk 'NR==1 {print $1" "$2}')
    if [ -n "$other" ]; then
        PG_VERSION=${other% *}; PG_CLUSTER=${other#* }
        say "no cluster $PG_CLUSTER; using $PG_VERSION/$PG_CLUSTER"
    else
        give_up "no PostgreSQL cluster exists (pg_createcluster $PG_VERSION $PG_CLUSTER creates one)"
    fi
fi

# 3. Start it unless it is already up.
status=$(pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}')
if [ "$status" != "online" ]; then
    say "starting cluster $PG_VERSION/$PG_CLUSTER"
    as_root pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start \
        || give_up "pg_ctlcluster $PG_VERSION $PG_CLUSTER start failed (see /var/log/postgresql/)"
fi
PG_PORT=$(pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $3}')

# 4. Wait until it accepts connections (30 s at most).
for _ in $(seq 1 30); do
    pg_isready -q -h localhost -p "$PG_PORT" && break
    sleep 1
done
pg_isready -q -h localhost -p "$PG_PORT" || give_up "server on localhost:$PG_PORT is not ready after 30 s"

# 5. The guide's role and database (idempotent; the password is reset to the guide's).
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER'")" != "1" ]; then
    psql_admin -c "CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'" || give_up "could not create role $DB_USER"
    say "created role $DB_USER"
else
    psql_admin -c "ALTER ROLE $DB_USER LOGIN PASSWORD '$DB_PASSWORD'" || give_up "could not update role $DB_USER"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != "1" ]; then
    psql_admin -c "CREATE DATABASE $DB_NAME OWNER $DB_USER" || give_up "could not create database $DB_NAME"
    say "created database $DB_NAME"
fi

# 6. Prove that the guide's URL works over TCP with the password.
if PGPASSWORD="$DB_PASSWORD" psql --no-psqlrc -h localhost -p "$PG_PORT" -U "$DB_USER" -d "$DB_NAME" -qtA \
        -c "SELECT 1" >/dev/null 2>&1; then
    say "ready: postgresql://$DB_USER:***@localhost:$PG_PORT/$DB_NAME"
else
    give_up "server is up but $DB_USER cannot log in to $DB_NAME over TCP (check pg_hba.conf)"
fi
exit 0
