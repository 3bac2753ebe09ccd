# Sourced by the check scripts: PASS/FAIL counting with the closing
# "<name>: N passed, N failed" line, and a quiet, idempotent apt-get install.
# The caller sets CHECK_NAME and W (its work directory) before sourcing.
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
finish() {
    echo "$CHECK_NAME: $passed passed, $failed failed"
    [[ "$failed" == 0 ]] && exit 0 || exit 1
}

apt_updated=0
apt_install() { # apt_install PACKAGE...: idempotent, quiet, never starts services
    if [[ "$(id -u)" != 0 ]]; then echo "$CHECK_NAME: need root to install $*" >&2; return 1; fi
    local made_policy=0 rc
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [[ "$apt_updated" == 0 ]]; then apt-get update -qq >"$W/apt.log" 2>&1 && apt_updated=1; fi
    apt-get install -y -qq --no-install-recommends "$@" >>"$W/apt.log" 2>&1
    rc=$?
    [[ "$made_policy" == 1 ]] && rm -f /usr/sbin/policy-rc.d
    [[ $rc == 0 ]] || cat "$W/apt.log" >&2
    return $rc
}
