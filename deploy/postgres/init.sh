#!/usr/bin/env bash
# PostgreSQL init script (run once by the postgres image from /docker-entrypoint-initdb.d on
# an empty data volume): one role and one database per service, so no service can read
# another's tables. Passwords come from the environment, with development defaults:
#   USER_DB_PASSWORD (user_svc), RESTAURANT_DB_PASSWORD (restaurant_svc), ORDER_DB_PASSWORD (order_svc)
# Safe to run again: existing roles get their password reset, existing databases are kept.
set -euo pipefail

create_service_db() {
    local role="$1" db="$2" password="$3"
    psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
        -v role="$role" -v db="$db" -v password="$password" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOCREATEDB NOCREATEROLE NOSUPERUSER PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT ALL PRIVILEGES ON DATABASE :"db" TO :"role";
SQL
    echo "init.sh: database $db owned by role $role"
}

create_service_db user_svc users "${USER_DB_PASSWORD:-user_svc_dev}"
create_service_db restaurant_svc restaurants "${RESTAURANT_DB_PASSWORD:-restaurant_svc_dev}"
create_service_db order_svc orders "${ORDER_DB_PASSWORD:-order_svc_dev}"
