# Services the test suite needs, sourced by .ci/run (under `set -euo pipefail`) before pytest:
#   - Chromium at /usr/bin/chromium for the review site's browser tests (apt package `chromium`);
#   - a throwaway PostgreSQL server on a free 127.0.0.1 port (apt package `postgresql`), whose URL
#     is exported as KINMATCH_TEST_PG_URL for the case-store tests.
# A service that cannot start prints a warning and the suite still runs: under CI the tests that
# need it then fail (they do not skip), so the cause is visible without hiding every other result.

_kinmatch_as_root() {
  if [ "$(id -u)" = "0" ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"; else return 1; fi
}

_kinmatch_apt_updated=""
_kinmatch_apt_install() {
  if [ -z "$_kinmatch_apt_updated" ]; then
    _kinmatch_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || return 1
    _kinmatch_apt_updated=1
  fi
  _kinmatch_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null || return 1
}

_kinmatch_chromium() {
  if [ -x /usr/bin/chromium ]; then return 0; fi
  echo "services: installing chromium (apt) for the browser tests" >&2
  _kinmatch_apt_install chromium || return 1
  [ -x /usr/bin/chromium ]
}

_kinmatch_pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

_kinmatch_postgres() {
  local bindir pgroot port runas
  bindir="$(_kinmatch_pg_bindir)"
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "services: installing postgresql (apt) for the case-store tests" >&2
    _kinmatch_apt_install postgresql || return 1
    bindir="$(_kinmatch_pg_bindir)"
    [ -n "$bindir" ] || return 1
  fi
  pgroot="$(mktemp -d /tmp/kinmatch-pg.XXXXXX)" || return 1
  # initdb refuses to run as root: as root, run the server as the postgres user
  runas=()
  if [ "$(id -u)" = "0" ]; then
    id postgres >/dev/null 2>&1 || return 1
    chown postgres "$pgroot" || return 1
    runas=(runuser -u postgres --)
  fi
  port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')" || return 1
  "${runas[@]}" "$bindir/initdb" -D "$pgroot/data" -U postgres --auth=trust -E UTF8 --no-locale >"$pgroot/initdb.log" 2>&1 \
    || { cat "$pgroot/initdb.log" >&2; return 1; }
  "${runas[@]}" "$bindir/pg_ctl" -D "$pgroot/data" -l "$pgroot/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $pgroot -c fsync=off" start >/dev/null \
    || { cat "$pgroot/server.log" >&2; return 1; }
  "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres kinmatch_test || return 1
  export KINMATCH_TEST_PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/kinmatch_test"
  export KINMATCH_TEST_PG_DIR="$pgroot"
  _KINMATCH_PG_STOP="${runas[*]} $bindir/pg_ctl -D $pgroot/data -m fast stop"
  echo "services: PostgreSQL on 127.0.0.1:$port ($pgroot)" >&2
}

_kinmatch_services_stop() {
  if [ -n "${_KINMATCH_PG_STOP:-}" ]; then $_KINMATCH_PG_STOP >/dev/null 2>&1 || true; fi
}

if ! _kinmatch_chromium; then
  echo "services: WARNING: chromium could not be installed; browser tests will fail under CI" >&2
fi
if ! _kinmatch_postgres; then
  echo "services: WARNING: PostgreSQL could not be started; postgres tests will fail under CI" >&2
fi
# stop the server when .ci/run ends, unless the caller set its own EXIT trap
if [ -z "$(trap -p EXIT)" ]; then
  trap _kinmatch_services_stop EXIT
fi
