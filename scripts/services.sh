#!/usr/bin/env bash
# Makes sure the local PostgreSQL and Redis are up; starts them if installed but stopped.
set -u
PG_HOST=${POSTGRES_HOST:-127.0.0.1}
PG_PORT=${POSTGRES_PORT:-5432}
REDIS_HOST_=${REDIS_HOST:-127.0.0.1}
REDIS_PORT_=${REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" 2>/dev/null; }
redis_up() { redis-cli -h "$REDIS_HOST_" -p "$REDIS_PORT_" ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  echo "PostgreSQL is not answering on $PG_HOST:$PG_PORT; trying to start it"
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    done
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "ERROR: PostgreSQL is not reachable on $PG_HOST:$PG_PORT" >&2; exit 1; }

if ! redis_up; then
  echo "Redis is not answering on $REDIS_HOST_:$REDIS_PORT_; trying to start it"
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT_" --save "" \
      --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
fi
redis_up || { echo "ERROR: Redis is not reachable on $REDIS_HOST_:$REDIS_PORT_" >&2; exit 1; }
echo "PostgreSQL and Redis are up"
