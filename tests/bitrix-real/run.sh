#!/usr/bin/env bash
# The module inside a real 1C-Bitrix kernel (../shared/real-bitrix/): brings the kernel up, loads the
# built extension into its PHP, and drives an admin's day through headless chromium (admin-day.test.cjs).
# Runs where BITRIX_GIT names the kernel's git dir (or finds the fetched one), says SKIPPED elsewhere.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rig="${SMTP34_RIG:-$root/../shared/real-bitrix}"
git_dir="${BITRIX_GIT:-}"
if [ -z "$git_dir" ]; then
    for candidate in /work/.mirror/vsyntot+tacticum_web/repo "$root/../.mirror/vsyntot+tacticum_web/repo"; do
        [ -d "$candidate" ] && { git_dir="$candidate"; break; }
    done
fi
if [ -z "$git_dir" ] || [ ! -d "$git_dir" ] || [ ! -x "$rig/setup.sh" ]; then
    echo "SKIPPED: the real Bitrix suite (no kernel source: set BITRIX_GIT to a git dir of vsyntot/tacticum_web)"
    exit 0
fi
: "${SMTP34_EXTENSION:?build the extension first (.ci/setup)}"
export RB_ROOT="${RB_ROOT:-/tmp/realbitrix}" RB_PORT="${RB_PORT:-8034}"

# what this run starts it stops again (MariaDB only when it was not running before);
# SMTP34_KEEP_RIG=1 leaves the kernel up at http://127.0.0.1:$RB_PORT/bitrix/admin/ to look at
mariadb_was_up=false
command -v mariadb >/dev/null && mariadb -e 'select 1' >/dev/null 2>&1 && mariadb_was_up=true
stop_rig() {
    if [ -f "$RB_ROOT/server.pid" ]; then kill -- -"$(cat "$RB_ROOT/server.pid")" 2>/dev/null || true; rm -f "$RB_ROOT/server.pid"; fi
    $mariadb_was_up || service mariadb stop >/dev/null 2>&1 || true
}
[ "${SMTP34_KEEP_RIG:-}" = 1 ] || trap stop_rig EXIT

echo "== the real Bitrix kernel: setup (MariaDB, the wizard) from $git_dir"
# the rig's server loads $RB_ROOT/php-ext.ini as it is: an earlier run's extension path must not outlive its build
[ -f "$RB_ROOT/php-ext.ini" ] && : >"$RB_ROOT/php-ext.ini"
BITRIX_GIT="$git_dir" bash "$rig/setup.sh" >"$RB_ROOT.setup.log" 2>&1 || { tail -30 "$RB_ROOT.setup.log"; exit 1; }

data="$RB_ROOT/smtp34"
rm -rf "$data"; install -d -m 700 "$data"
cat >"$RB_ROOT/php-ext.ini" <<INI
extension=$SMTP34_EXTENSION
smtp34.db=$data/smtp34.db
smtp34.key_file=$data/smtp34.key
smtp34.log_dir=$data/logs
INI
bash "$rig/serve.sh"
rm -rf "$RB_ROOT/www/local/modules/smtp34.smtp" "$RB_ROOT/www/bitrix/modules/smtp34.smtp"
mkdir -p "$RB_ROOT/www/local/modules"
cp -r "$root/php/smtp34.smtp" "$RB_ROOT/www/local/modules/"

mkdir -p "$root/test-output/bitrix-real"
cd "$here"
SMTP34_ROOT="$root" SHOTS="$root/test-output/bitrix-real" \
    NODE_PATH="$RB_ROOT/node/node_modules" node --test --test-concurrency=1 admin-day.test.cjs
