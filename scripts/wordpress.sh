#!/usr/bin/env bash
# A real WordPress (Debian's packages, MariaDB, `php -S`) on 127.0.0.1, for tests, CI and benches.
#
#   scripts/wordpress.sh up      install packages if missing, start MariaDB and WordPress (idempotent)
#   scripts/wordpress.sh stop    stop what `up` started, by the recorded pids / process groups
#   scripts/wordpress.sh reset   drop the WordPress database, then `up` again (empty site, new password)
#   scripts/wordpress.sh env     print ANP_WP_URL, ANP_WP_USER, ANP_WP_APP_PASSWORD as shell assignments
#   scripts/wordpress.sh status  say what runs
#
# Environment: ANP_WP_PORT (default 8089), ANP_WP_STATE_DIR (default /var/tmp/anp-wordpress),
# ANP_WP_DB (database and user, default anp_wordpress; another name is another site beside the
# default one, with its own /etc/wordpress config picked by WORDPRESS_CONFIG),
# ANP_WP_WORKERS (php -S workers, default 4). Needs root for apt and MariaDB (CI machines are root).
# No systemd: processes start with setsid and are stopped by their process group. Server output
# goes to log files in the state dir, never to the caller (a `$(…)` around this would hang).
set -euo pipefail

PORT=${ANP_WP_PORT:-8089}
STATE=${ANP_WP_STATE_DIR:-/var/tmp/anp-wordpress}
WORKERS=${ANP_WP_WORKERS:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PLUGIN_DIR="$REPO/anp_synth/sinks/wordpress/plugin"
MU_PLUGINS=(anp-synth.php anp-synth-keys.php)  # the import API; the cache keys (issue 14)
WP_CONTENT=/var/lib/wordpress/wp-content
DB_NAME=${ANP_WP_DB:-anp_wordpress}
DB_USER=$DB_NAME
[[ $DB_NAME =~ ^[A-Za-z0-9_]{1,64}$ ]] || { echo "wordpress: error: ANP_WP_DB: letters, digits, _ only" >&2; exit 2; }
if [ "$DB_NAME" = anp_wordpress ]; then
  CONFIG=/etc/wordpress/config-127.0.0.1.php  # Debian picks it by Host header
else
  # Debian's wp-config.php reads /etc/wordpress/config-$WORDPRESS_CONFIG.php ([A-Za-z0-9-]):
  # install.php (php-cli) and router.php (php -S) pass it from the environment.
  export WORDPRESS_CONFIG=${DB_NAME//_/-}
  CONFIG=/etc/wordpress/config-$WORDPRESS_CONFIG.php
fi
PACKAGES=(wordpress wordpress-theme-twentytwentythree php-cli php-mysql php php8.2-cgi
  micro-httpd mariadb-server curl)
SOCKET=/run/mysqld/mysqld.sock

log() { echo "wordpress: $*" >&2; }
die() { echo "wordpress: error: $*" >&2; exit 1; }

# --- processes -------------------------------------------------------------------------------

# alive PIDFILE EXPECTED_EXE: true when the recorded pid runs and is still the program we started
# (a recycled pid must never be killed).
alive() {
  local pidfile=$1 exe=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -d "/proc/$pid" ] || return 1
  grep -q -- "$exe" "/proc/$pid/cmdline" 2>/dev/null
}

# stop_group PIDFILE EXPECTED_EXE: TERM the process group the recorded pid leads, then KILL.
stop_group() {
  local pidfile=$1 exe=$2 pid i
  if ! alive "$pidfile" "$exe"; then
    rm -f "$pidfile"
    return 0
  fi
  pid=$(cat "$pidfile")
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

# --- install ---------------------------------------------------------------------------------

packages_missing() {
  local p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 0
  done
  return 1
}

install_packages() {
  packages_missing || return 0
  [ "$(id -u)" = 0 ] || die "packages missing (${PACKAGES[*]}); run as root to apt-get install them"
  command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian 12 (bookworm)"
  # micro-httpd ships a systemd socket on 0.0.0.0:80: mask it before it is ever enabled.
  mkdir -p /etc/systemd/system
  ln -sf /dev/null /etc/systemd/system/micro-httpd.socket
  log "installing packages (apt-get, ~20-30 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$STATE/apt.log" 2>&1 || { tail -5 "$STATE/apt.log" >&2; die "apt-get update failed (log: $STATE/apt.log)"; }
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$STATE/apt.log" 2>&1 \
    || { tail -5 "$STATE/apt.log" >&2; die "apt-get install failed (log: $STATE/apt.log)"; }
  rm -f /etc/systemd/system/sockets.target.wants/micro-httpd.socket
}

# --- MariaDB ---------------------------------------------------------------------------------

db_ping() { mysqladmin --socket="$SOCKET" ping >/dev/null 2>&1; }

start_mariadb() {
  install -d -o mysql -g mysql /run/mysqld
  if db_ping; then
    return 0  # ours from an earlier `up`, or a server the machine already runs
  fi
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >"$STATE/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed (log: $STATE/mariadb-install.log)"
  fi
  # stderr is redirected by the shell: --log-error=FILE fails (the server opens it as mysql).
  setsid mariadbd --user=mysql --skip-networking --socket="$SOCKET" \
    --innodb-flush-log-at-trx-commit=2 >"$STATE/mariadb.log" 2>&1 </dev/null &
  echo $! >"$STATE/mariadb.pid"
  local i
  for i in $(seq 1 300); do
    db_ping && return 0
    alive "$STATE/mariadb.pid" mariadbd || { tail -5 "$STATE/mariadb.log" >&2; die "MariaDB exited (log: $STATE/mariadb.log)"; }
    sleep 0.1
  done
  die "MariaDB did not answer within 30 s (log: $STATE/mariadb.log)"
}

db_password() {
  if [ ! -s "$STATE/db-password" ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$STATE/db-password")
  fi
  cat "$STATE/db-password"
}

create_database() {
  local pw
  pw=$(db_password)
  mariadb --socket="$SOCKET" -u root <<SQL
CREATE DATABASE IF NOT EXISTS $DB_NAME CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$pw';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
}

# --- WordPress -------------------------------------------------------------------------------

salts() {
  if [ ! -s "$STATE/salts.php" ]; then
    local k
    (
      umask 077
      echo "<?php"
      for k in AUTH_KEY SECURE_AUTH_KEY LOGGED_IN_KEY NONCE_KEY AUTH_SALT SECURE_AUTH_SALT LOGGED_IN_SALT NONCE_SALT; do
        echo "define('$k', '$(head -c 48 /dev/urandom | base64 | tr -d "'\\\\\n")');"
      done
    ) >"$STATE/salts.php"
  fi
}

write_config() {
  local pw tmp
  pw=$(db_password)
  salts
  tmp=$(mktemp /etc/wordpress/.config.XXXXXX)
  cat >"$tmp" <<PHP
<?php
// Written by anp-synth scripts/wordpress.sh; rewritten on every \`up\`.
define('DB_NAME', '$DB_NAME');
define('DB_USER', '$DB_USER');
define('DB_PASSWORD', '$pw');
define('DB_HOST', 'localhost:$SOCKET');
define('WP_HOME', 'http://127.0.0.1:$PORT');
define('WP_SITEURL', 'http://127.0.0.1:$PORT');
// 'local' keeps Application Passwords on over plain http (otherwise basic auth is ignored).
define('WP_ENVIRONMENT_TYPE', 'local');
define('DISABLE_WP_CRON', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_CONTENT_DIR', '$WP_CONTENT');
require '$STATE/salts.php';
PHP
  chmod 0640 "$tmp"
  mv -f "$tmp" "$CONFIG"
  # http://localhost:PORT would otherwise answer 404 "Neither config-localhost.php ...".
  [ -n "${WORDPRESS_CONFIG:-}" ] || ln -sf "$CONFIG" /etc/wordpress/config-localhost.php
}

install_plugin() {
  local name
  install -d "$WP_CONTENT/mu-plugins"
  for name in "${MU_PLUGINS[@]}"; do
    [ -f "$PLUGIN_DIR/$name" ] || die "mu-plugin not found at $PLUGIN_DIR/$name"
    install -m 0644 "$PLUGIN_DIR/$name" "$WP_CONTENT/mu-plugins/$name"
  done
}

http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true; }

start_php() {
  if alive "$STATE/php.pid" "php"; then
    [ "$(cat "$STATE/php.port" 2>/dev/null)" = "$PORT" ] || stop_group "$STATE/php.pid" php
  fi
  if ! alive "$STATE/php.pid" "php"; then
    if [ "$(http_code "http://127.0.0.1:$PORT/")" != "000" ]; then
      die "port $PORT is taken by another program (set ANP_WP_PORT)"
    fi
    # OPcache is on in every real PHP deployment; the CLI server leaves it off unless asked.
    PHP_CLI_SERVER_WORKERS=$WORKERS setsid php -q -d "error_log=$STATE/php-error.log" \
      -d opcache.enable_cli=1 -d opcache.memory_consumption=128 -d memory_limit=256M \
      -S "127.0.0.1:$PORT" -t /usr/share/wordpress "$HERE/wordpress/router.php" \
      >"$STATE/php.log" 2>&1 </dev/null &
    echo $! >"$STATE/php.pid"
    echo "$PORT" >"$STATE/php.port"
  fi
  local i code
  for i in $(seq 1 300); do
    code=$(http_code "http://127.0.0.1:$PORT/wp-json/anp-synth/v1/info")
    [ "$code" = 200 ] && return 0
    alive "$STATE/php.pid" php || { tail -5 "$STATE/php.log" >&2; die "php -S exited (log: $STATE/php.log)"; }
    sleep 0.1
  done
  die "WordPress did not answer on 127.0.0.1:$PORT within 30 s (last HTTP $code; logs in $STATE)"
}

cmd_up() {
  install -d -m 0700 "$STATE"
  install_packages
  start_mariadb
  create_database
  write_config
  install_plugin
  php -d "error_log=$STATE/php-error.log" "$HERE/wordpress/install.php" "$STATE" \
    >"$STATE/install.log" 2>&1 || { tail -5 "$STATE/install.log" >&2; die "install failed (log: $STATE/install.log)"; }
  start_php
  log "up at http://127.0.0.1:$PORT (state: $STATE)"
}

cmd_stop() {
  [ -d "$STATE" ] || return 0
  stop_group "$STATE/php.pid" php
  stop_group "$STATE/mariadb.pid" mariadbd
  log "stopped"
}

cmd_reset() {
  install -d -m 0700 "$STATE"
  install_packages
  stop_group "$STATE/php.pid" php
  start_mariadb
  mariadb --socket="$SOCKET" -u root -e "DROP DATABASE IF EXISTS $DB_NAME"
  rm -f "$STATE/app-password" "$STATE/users.json"
  cmd_up
}

cmd_env() {
  [ -r "$STATE/app-password" ] || die "no application password in $STATE: run '$0 up' first"
  local cred
  cred=$(cat "$STATE/app-password")
  # Single quotes: the values hold spaces (application passwords do) but never a quote.
  printf "ANP_WP_URL='%s'\n" "http://127.0.0.1:$PORT"
  printf "ANP_WP_USER='%s'\n" "${cred%%:*}"
  printf "ANP_WP_APP_PASSWORD='%s'\n" "${cred#*:}"
  printf "ANP_WP_USERS_FILE='%s'\n" "$STATE/users.json"
}

cmd_status() {
  if alive "$STATE/mariadb.pid" mariadbd; then echo "mariadb: running (pid $(cat "$STATE/mariadb.pid"))"
  elif db_ping; then echo "mariadb: running (not started by this script)"
  else echo "mariadb: stopped"; fi
  if alive "$STATE/php.pid" php; then echo "wordpress: running on http://127.0.0.1:$(cat "$STATE/php.port") (pid $(cat "$STATE/php.pid"))"
  else echo "wordpress: stopped"; fi
}

case "${1:-}" in
  up) cmd_up ;;
  stop) cmd_stop ;;
  reset) cmd_reset ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|stop|reset|env|status" >&2; exit 2 ;;
esac
