#!/usr/bin/env bash
# Generates the dev overlay's secrets once, at random, beside this script (git-ignored):
#   secrets.env   → Secret testbed-secrets (JWT and service-token secrets, database URLs, Redis)
#   postgres.env  → Secret postgres-passwords (read by deploy/postgres/init.sh)
# The two are written together, so the passwords in the URLs match the databases'. Existing
# files are kept; delete both to rotate (and drop the PostgreSQL volume, which keeps the old
# passwords). Run before `kubectl apply -k deploy/k8s/overlays/dev`; scripts/validate-k8s.sh
# runs it too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
if [[ -s secrets.env && -s postgres.env ]]; then
    echo "make-secrets: keeping $(pwd)/secrets.env and postgres.env"; exit 0
fi
rand() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }
umask 077
user_pw=$(rand 16); restaurant_pw=$(rand 16); order_pw=$(rand 16)
cat >postgres.env <<ENV
POSTGRES_PASSWORD=$(rand 16)
USER_DB_PASSWORD=$user_pw
RESTAURANT_DB_PASSWORD=$restaurant_pw
ORDER_DB_PASSWORD=$order_pw
ENV
cat >secrets.env <<ENV
JWT_SECRET=$(rand 32)
SERVICE_TOKEN_SECRET=$(rand 32)
USER_DATABASE_URL=postgres://user_svc:$user_pw@postgres:5432/users
RESTAURANT_DATABASE_URL=postgres://restaurant_svc:$restaurant_pw@postgres:5432/restaurants
ORDER_DATABASE_URL=postgres://order_svc:$order_pw@postgres:5432/orders
REDIS_URL=redis://redis:6379
ENV
echo "make-secrets: wrote $(pwd)/secrets.env and postgres.env (random values)"
