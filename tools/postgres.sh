#!/usr/bin/env bash
# A throwaway PostgreSQL server for `make test-postgres`: Debian's postgresql (installed if missing,
# as root), a fresh cluster in a temporary directory, trust authentication, loopback only.
#
#   tools/postgres.sh start DIR PORT     # prints the asyncpg URL for TETHER_TEST_POSTGRES_URL
#   tools/postgres.sh stop DIR
set -euo pipefail

bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

case "${1:-}" in
  start)
    dir="$2"; port="$3"
    if [[ -z "$(bin_dir)" ]]; then
      echo "[postgres] installing Debian's postgresql" >&2
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    bin="$(bin_dir)"
    rm -rf "$dir" && mkdir -p "$dir"
    owner=root; [[ "$(id -u)" == 0 ]] && owner=postgres && chown postgres "$dir"
    run() { if [[ "$owner" == postgres ]]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
    run "'$bin/initdb' -D '$dir/data' -U postgres --auth=trust >/dev/null"
    run "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1\" -w start >/dev/null"
    echo "postgresql+asyncpg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir="$2"; bin="$(bin_dir)"
    if [[ -d "$dir/data" ]]; then
      if [[ "$(id -u)" == 0 ]]; then su postgres -s /bin/sh -c "'$bin/pg_ctl' -D '$dir/data' -m fast stop" >/dev/null
      else "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null; fi
    fi
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
