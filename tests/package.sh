#!/usr/bin/env bash
# The Debian package on this machine: build it, install it, run the demo
# against the installed files only (the CLI as /usr/bin/smtp34, the ini that
# phpenmod enabled, /var/lib/smtp34), send a letter through a php-fpm this
# test starts with Debian's own php.ini and conf.d, then remove the package
# (the data stays) and purge it (the data goes). Restarts nothing it did not
# start. Needs root; refuses to touch a machine where smtp34 is installed or
# /var/lib/smtp34 exists already.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" != 0 ]; then echo "package test: SKIPPED (needs root)"; exit 0; fi
if dpkg-query -W -f='${Status}' smtp34 2>/dev/null | grep -q installed || [ -e /var/lib/smtp34 ]; then
    echo "package test: SKIPPED (smtp34 is installed here, or /var/lib/smtp34 exists: not touching it)"
    exit 0
fi

if pgrep -f 'php-fpm: master process' >/dev/null; then
    # php8.2-fpm's dpkg trigger would restart it: that is for a site owner's install, not for a test
    echo "package test: SKIPPED (a php-fpm runs here that this test did not start)"
    exit 0
fi

deb="$(bash packaging/build-deb)"
work="$(mktemp -d /tmp/smtp34-package.XXXXXX)"
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    dpkg-query -W smtp34 >/dev/null 2>&1 && dpkg --purge smtp34 >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package test: FAILED: $*" >&2; exit 1; }
check() { local what="$1"; shift; if "$@"; then echo "  ok: $what"; else fail "$what"; fi; }

echo "== dpkg -i $deb"
dpkg -i "$deb"
check "CLI PHP loads smtp34 from the enabled ini" sh -c 'php -m | grep -qx smtp34'
check "php-fpm 8.2 loads it too" sh -c '! [ -x /usr/sbin/php-fpm8.2 ] || php-fpm8.2 -m | grep -qx smtp34'
check "the ini is enabled through phpenmod (cli)" test -L /etc/php/8.2/cli/conf.d/20-smtp34.ini
check "/var/lib/smtp34 is www-data's, 0700" test "$(stat -c '%U %a' /var/lib/smtp34)" = "www-data 700"
check "php --ri shows the package's paths" sh -c 'php --ri smtp34 | grep -q "/var/lib/smtp34/smtp34.db"'

spool="$work/spool"; mkdir -m 755 "$spool"
/usr/bin/python3 tests/smtp_server.py --spool "$spool" --auth demo:demo-password >"$work/server.ready" 2>"$work/server.log" & pids+=($!)
for _ in $(seq 50); do grep -q READY "$work/server.ready" 2>/dev/null && break; sleep 0.1; done
port="$(awk '/READY/ {print $2}' "$work/server.ready")"

echo "== the demo, as www-data, against the installed files"
runuser -u www-data -- php /usr/share/smtp34/examples/send-demo.php "$port" demo demo-password "$spool" | tee "$work/demo.out"
check "the letter arrived" test -f "$spool/1.eml"
check "the database is www-data's, 0600" test "$(stat -c '%U %a' /var/lib/smtp34/smtp34.db)" = "www-data 600"
check "the key is www-data's, 0600" test "$(stat -c '%U %a' /var/lib/smtp34/smtp34.key)" = "www-data 600"
echo "== smtp34 journal (root runs the CLI as the data directory's owner)"
smtp34 journal --limit 1 | tee "$work/journal.out"
check "the CLI reads the demo's journal row" grep -q " sent " "$work/journal.out"
check "the CLI made no file as root" test -z "$(find /var/lib/smtp34 -user root)"

if [ -x /usr/sbin/php-fpm8.2 ] && [ -x /usr/bin/cgi-fcgi ]; then
    echo "== a letter through a php-fpm started here (Debian's php.ini and conf.d, workers as www-data)"
    fpm_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    cat > "$work/fpm.conf" <<CONF
[global]
pid = $work/fpm.pid
error_log = $work/fpm.log
daemonize = no
[www]
user = www-data
group = www-data
listen = 127.0.0.1:$fpm_port
pm = static
pm.max_children = 1
CONF
    cat > "$work/send.php" <<'PHP'
<?php
$sent = custom_mail('fpm@example.test', 'through php-fpm', "Hello from php-fpm.\n", 'From: shop@smtp34-demo.ru');
// delivery = background: the worker's sender thread delivers it after the page returned
for ($i = 0; $i < 200 && smtp34_journal(1)[0]['status'] === 'queued'; $i++) {
    usleep(50000);
}
echo $sent ? 'sent ' : 'FAILED ', smtp34_journal(1)[0]['status'], ' as ', posix_getpwuid(posix_geteuid())['name'];
PHP
    chmod 644 "$work/send.php"
    /usr/sbin/php-fpm8.2 -y "$work/fpm.conf" >"$work/fpm.out" 2>&1 & pids+=($!)
    for _ in $(seq 50); do cgi-fcgi -bind -connect "127.0.0.1:$fpm_port" </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
    SCRIPT_FILENAME="$work/send.php" REQUEST_METHOD=GET cgi-fcgi -bind -connect "127.0.0.1:$fpm_port" | tee "$work/fpm.response"; echo
    check "php-fpm's worker sent the letter as www-data" grep -q "sent sent as www-data" "$work/fpm.response"
    check "the server got it" test -f "$spool/2.eml"
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
fi

echo "== dpkg -r smtp34 (the data stays)"
dpkg -r smtp34
check "PHP no longer loads smtp34" sh -c '! php -m | grep -qx smtp34'
check "the data is still there" test -f /var/lib/smtp34/smtp34.db
echo "== dpkg -P smtp34 (the data goes)"
dpkg -P smtp34
check "the data is gone" test ! -e /var/lib/smtp34
check "the ini is gone" test ! -e /etc/php/8.2/mods-available/smtp34.ini
check "no link to it is left" test -z "$(find /etc/php -lname '*smtp34.ini')"
echo "package test: OK"
