# Sourced by the check scripts: PASS/FAIL counting with the closing
# "<name>: N passed, N failed" line, a quiet, idempotent apt-get install, the tools the
# checks share (nginx, tmux, …), free ports, waiting for a URL and dropping test databases.
# The caller sets CHECK_NAME (default: the script's name) and may set W (its work directory).
# Sourcing it twice (a script and scripts/stack.sh) keeps the first one's counts.
[[ -z "${check_lib_loaded:-}" ]] || return 0
check_lib_loaded=1
CHECK_NAME="${CHECK_NAME:-$(basename "$0" .sh)}"
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() { # check DESCRIPTION COMMAND...: PASS when the command succeeds, FAIL otherwise
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
finish() {
    echo "$CHECK_NAME: $passed passed, $failed failed"
    [[ "$failed" == 0 ]] && exit 0 || exit 1
}

apt_updated=0
apt_install() { # apt_install PACKAGE...: idempotent, quiet, never starts services
    if [[ "$(id -u)" != 0 ]]; then echo "$CHECK_NAME: need root to install $* (apt-get install $*)" >&2; return 1; fi
    local made_policy=0 rc log="${W:-${TMPDIR:-/tmp}}/apt-$$.log"
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [[ "$apt_updated" == 0 ]]; then apt-get update -qq >"$log" 2>&1 && apt_updated=1; fi
    apt-get install -y -qq --no-install-recommends "$@" >>"$log" 2>&1
    rc=$?
    [[ "$made_policy" == 1 ]] && rm -f /usr/sbin/policy-rc.d
    [[ $rc == 0 ]] || cat "$log" >&2
    rm -f "$log"
    return $rc
}

need_tool() { # need_tool COMMAND [PACKAGE]: the command on PATH, installed from Debian if missing
    command -v "$1" >/dev/null 2>&1 || apt_install "${2:-$1}" >/dev/null || return 1
    command -v "$1" >/dev/null 2>&1
}

need_nginx() { # sets NGINX to Debian's nginx (on PATH or /usr/sbin), installed if missing
    NGINX="$(command -v nginx 2>/dev/null || true)"
    [[ -n "$NGINX" || ! -x /usr/sbin/nginx ]] || NGINX=/usr/sbin/nginx
    [[ -n "$NGINX" ]] || { apt_install nginx && NGINX="$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)"; }
    [[ -x "$NGINX" ]]
}

free_port() { # a TCP port on 127.0.0.1 that is free now
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_url() { # wait_url URL SECONDS PID LOG [CURL ARGS…]: true once URL answers 2xx;
    # false if PID exits (LOG shown) or time is up
    local deadline=$((SECONDS + $2))
    while [[ $SECONDS -lt $deadline ]]; do
        curl -fsS --max-time 2 -o /dev/null "${@:5}" "$1" 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || { cat "$4" 2>/dev/null; echo "$CHECK_NAME: the process behind $1 exited" >&2; return 1; }
        sleep 0.25
    done
    cat "$4" 2>/dev/null
    echo "$CHECK_NAME: $1 did not answer within $2 s" >&2
    return 1
}

stop_quietly() { # stop_quietly PID [SIGNAL]: SIGNAL (default TERM), up to 10 s, then KILL; reaped
    [[ -n "$1" ]] || return 0
    kill "-${2:-TERM}" "$1" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

drop_databases() { # drop_databases SERVER NAME...: throw-away PostgreSQL databases, gone
    local server="$1" db
    shift
    for db in "$@"; do
        psql "$server/postgres" -qAtc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
}
