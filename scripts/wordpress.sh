#!/usr/bin/env bash
# A real WordPress (Debian's packages: nginx + php-fpm + MariaDB) on 127.0.0.1, for tests, CI
# and benches — served the way WordPress is hosted, tuned as on a small staging box.
#
#   scripts/wordpress.sh up      install packages if missing, start MariaDB and WordPress (idempotent)
#   scripts/wordpress.sh stop    stop what `up` started, by the recorded pids / process groups
#   scripts/wordpress.sh reset   drop the WordPress database, then `up` again (empty site, new password)
#   scripts/wordpress.sh env     print ANP_WP_URL, ANP_WP_USER, ANP_WP_APP_PASSWORD as shell assignments
#   scripts/wordpress.sh status  say what runs
#
# Environment: ANP_WP_PORT (default 8089), ANP_WP_STATE_DIR (default /var/tmp/anp-wordpress),
# ANP_WP_DB (the MariaDB database and user, default anp_wordpress), ANP_WP_BUFFER_POOL_MB
# (InnoDB buffer pool, default 1024; a running MariaDB's is raised to it), ANP_WP_WORKERS (php-fpm
# pm.max_children, default 2 per core, at least 4). Needs root for apt, MariaDB and nginx (CI
# machines are root); PHP runs as www-data.
# No systemd: nginx (daemon off) and php-fpm (--nodaemonize) and MariaDB start with setsid, their
# pids are recorded in the state dir, and they are stopped by their process group. MariaDB is one
# server for every site on the machine: `stop` stops it only when this site started it and no
# other site registered in /var/tmp/anp-mariadb-sites still runs. Server output
# goes to log files in the state dir, never to the caller (a `$(…)` around this would hang).
# The tuning (docs/wordpress.md, "Hosting"): opcache on with timestamps validated, a static
# php-fpm pool sized from the cores, FastCGI over a unix socket, keep-alive, no access log.
set -euo pipefail

PORT=${ANP_WP_PORT:-8089}
STATE=${ANP_WP_STATE_DIR:-/var/tmp/anp-wordpress}
CORES=$(nproc 2>/dev/null || echo 2)
WORKERS=${ANP_WP_WORKERS:-$(( CORES * 2 > 4 ? CORES * 2 : 4 ))}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PLUGIN_DIR="$REPO/anp_synth/sinks/wordpress/plugin"
MU_PLUGINS=(anp-synth.php anp-synth-keys.php)  # the import API; the cache keys (issue 14)
# One MariaDB database (and user of the same name) per site: several sites can run side by side.
DB_NAME=${ANP_WP_DB:-anp_wordpress}
[[ $DB_NAME =~ ^[A-Za-z0-9_]{1,64}$ ]] || { echo "wordpress: error: ANP_WP_DB: letters, digits, _ only" >&2; exit 2; }
DB_USER=$DB_NAME
# Each site has its own config and wp-content (its own mu-plugin): Debian's wp-config.php picks
# /etc/wordpress/config-$WORDPRESS_CONFIG.php when the server sets WORDPRESS_CONFIG (nginx does,
# install.php does), so sites on other ports never read or overwrite each other's files.
CONFIG_NAME=anp-$PORT
CONFIG=/etc/wordpress/config-$CONFIG_NAME.php
SHARED_CONTENT=/var/lib/wordpress/wp-content
WP_CONTENT=$STATE/wp-content
# Sites sharing the MariaDB server register here; `stop` stops MariaDB only when it started it
# and no other registered site still runs.
DB_USERS=/var/tmp/anp-mariadb-sites
# Naming nginx (an httpd) and php8.2-fpm keeps apt from pulling Apache in for `wordpress`.
PACKAGES=(wordpress wordpress-theme-twentytwentythree php-cli php-mysql php8.2-fpm php8.2-opcache
  php nginx mariadb-server curl)
SOCKET=/run/mysqld/mysqld.sock
# InnoDB's buffer pool (MB): a site of 100,000 posts has ~2.5 million postmeta rows (~1 GB with
# their indexes); with MariaDB's default 128 MB every import call reads and writes index pages
# from disk and the posts/s fall as the site grows.
BUFFER_POOL_MB=${ANP_WP_BUFFER_POOL_MB:-1024}

log() { echo "wordpress: $*" >&2; }
die() { echo "wordpress: error: $*" >&2; exit 1; }

# --- processes -------------------------------------------------------------------------------

# alive, stop_group, packages_missing (shared with scripts/varnish.sh)
# shellcheck source=lib/procs.sh
. "$HERE/lib/procs.sh"

# --- install ---------------------------------------------------------------------------------

install_packages() {
  packages_missing "${PACKAGES[@]}" || return 0
  [ "$(id -u)" = 0 ] || die "packages missing (${PACKAGES[*]}); run as root to apt-get install them"
  command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian 12 (bookworm)"
  log "installing packages (apt-get, ~20-40 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$STATE/apt.log" 2>&1 || { tail -5 "$STATE/apt.log" >&2; die "apt-get update failed (log: $STATE/apt.log)"; }
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$STATE/apt.log" 2>&1 \
    || { tail -5 "$STATE/apt.log" >&2; die "apt-get install failed (log: $STATE/apt.log)"; }
}

# --- MariaDB ---------------------------------------------------------------------------------

db_ping() { mysqladmin --socket="$SOCKET" ping >/dev/null 2>&1; }

# A running server with a smaller buffer pool gets it raised online (never lowered).
size_buffer_pool() {
  mariadb --socket="$SOCKET" -u root -e \
    "SET GLOBAL innodb_buffer_pool_size = GREATEST(@@innodb_buffer_pool_size, $BUFFER_POOL_MB * 1048576)" \
    || log "could not raise innodb_buffer_pool_size to $BUFFER_POOL_MB MB (imports slow down as the site grows)"
}

start_mariadb() {
  install -d -o mysql -g mysql /run/mysqld
  if db_ping; then
    size_buffer_pool
    return 0  # ours from an earlier `up`, or a server the machine already runs
  fi
  if [ ! -d /var/lib/mysql/mysql ]; then
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql >"$STATE/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed (log: $STATE/mariadb-install.log)"
  fi
  # stderr is redirected by the shell: --log-error=FILE fails (the server opens it as mysql).
  setsid mariadbd --user=mysql --skip-networking --socket="$SOCKET" \
    --innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size="${BUFFER_POOL_MB}M" \
    >"$STATE/mariadb.log" 2>&1 </dev/null &
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
  chgrp www-data "$STATE/salts.php" && chmod 0640 "$STATE/salts.php"
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
  chgrp www-data "$tmp"  # PHP runs as www-data; nobody else reads the database password
  mv -f "$tmp" "$CONFIG"
}

# This site's wp-content: its own mu-plugins and uploads, Debian's themes, plugins, languages.
install_content() {
  local d name
  install -d -m 0755 "$WP_CONTENT" "$WP_CONTENT/mu-plugins"
  install -d -m 0755 -o www-data -g www-data "$WP_CONTENT/uploads"
  for d in themes plugins languages index.php; do
    [ -e "$SHARED_CONTENT/$d" ] && ln -sfn "$SHARED_CONTENT/$d" "$WP_CONTENT/$d"
  done
  for name in "${MU_PLUGINS[@]}"; do
    [ -f "$PLUGIN_DIR/$name" ] || die "mu-plugin not found at $PLUGIN_DIR/$name"
    install -m 0644 "$PLUGIN_DIR/$name" "$WP_CONTENT/mu-plugins/$name"
  done
}

http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null || true; }

write_fpm_config() {
  install -d -o www-data -g www-data -m 0750 "$STATE/run"
  touch "$STATE/php-error.log" && chown www-data:www-data "$STATE/php-error.log"  # PHP writes it
  cat >"$STATE/php-fpm.conf" <<INI
; Written by anp-synth scripts/wordpress.sh; rewritten on every \`up\`.
[global]
pid = $STATE/run/php-fpm.pid
error_log = $STATE/php-fpm.log
daemonize = no

[wordpress]
user = www-data
group = www-data
listen = $STATE/run/php-fpm.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
; A static pool: every worker forks at start, none on demand (the import and the load test
; would pay the forks). $WORKERS = 2 per core ($CORES here), at least 4: a WordPress request
; waits on MariaDB about half of its time.
pm = static
pm.max_children = $WORKERS
pm.max_requests = 2000
request_terminate_timeout = 300
catch_workers_output = yes
php_admin_value[error_log] = $STATE/php-error.log
php_admin_flag[log_errors] = on
php_admin_value[memory_limit] = 256M
; Above the plugin's bulk limit (16 MB), so the plugin, not PHP, answers a body too large.
php_admin_value[post_max_size] = 24M
php_admin_value[upload_max_filesize] = 24M
php_admin_value[max_execution_time] = 300
; opcache is on from Debian's conf.d/10-opcache.ini (php8.2-opcache); a pool cannot switch it on.
php_admin_value[opcache.memory_consumption] = 128
php_admin_value[opcache.interned_strings_buffer] = 16
php_admin_value[opcache.max_accelerated_files] = 10000
php_admin_flag[opcache.validate_timestamps] = on
php_admin_value[opcache.revalidate_freq] = 2
php_admin_value[realpath_cache_size] = 4096K
php_admin_value[realpath_cache_ttl] = 600
INI
}

write_nginx_config() {
  install -d -o www-data -g www-data -m 0750 "$STATE/nginx"
  cat >"$STATE/nginx.conf" <<CONF
# Written by anp-synth scripts/wordpress.sh; rewritten on every \`up\`.
user www-data;
worker_processes $CORES;
pid $STATE/run/nginx.pid;
error_log $STATE/nginx-error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  keepalive_timeout 65;
  keepalive_requests 10000;
  client_max_body_size 20m;
  client_body_buffer_size 4m;  # a bulk call of 200 posts (~2.2 MB) stays in memory
  client_body_temp_path $STATE/nginx/body;
  fastcgi_temp_path $STATE/nginx/fastcgi;
  proxy_temp_path $STATE/nginx/proxy;
  scgi_temp_path $STATE/nginx/scgi;
  uwsgi_temp_path $STATE/nginx/uwsgi;
  # No FastCGI keep-alive: a php-fpm worker serves one connection at a time, so connections
  # an nginx worker keeps idle hold php-fpm workers that the other nginx workers' requests then
  # wait for (until fastcgi_read_timeout: whole scenarios of a load test stalled). A connect
  # over the unix socket costs microseconds.
  upstream php { server unix:$STATE/run/php-fpm.sock; }
  server {
    listen 127.0.0.1:$PORT;
    server_name 127.0.0.1 localhost;
    root /usr/share/wordpress;
    index index.php;
    # Debian keeps wp-content apart from the code; PHP under it is never run.
    location /wp-content/ {
      alias $WP_CONTENT/;
      location ~ \.php\$ { deny all; }
    }
    location / { try_files \$uri \$uri/ /index.php?\$args; }
    location ~ \.php\$ {
      try_files \$uri =404;
      include /etc/nginx/fastcgi_params;
      # Debian's nginx security update (1.22.1-9+deb12u11) passes HTTP_HOST as \$host, without
      # the port: WordPress's canonical redirect then sends every page to itself (301 loop).
      # The port this server listens on, not the client's Host header, keeps it right and safe.
      fastcgi_param HTTP_HOST \$host:\$server_port;
      fastcgi_param WORDPRESS_CONFIG $CONFIG_NAME;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_pass php;
      fastcgi_read_timeout 300s;
      fastcgi_buffers 16 32k;
      fastcgi_buffer_size 32k;
    }
  }
}
CONF
}

port_in_use() { [ "$(http_code "http://127.0.0.1:$PORT/")" != "000" ]; }

start_web() {
  stop_group "$STATE/php.pid" php  # a `php -S` from an older version of this script
  if alive "$STATE/nginx.pid" nginx; then
    [ "$(cat "$STATE/nginx.port" 2>/dev/null)" = "$PORT" ] || stop_group "$STATE/nginx.pid" nginx
  fi
  # A config that changed (a newer version of this script) restarts its server; an unchanged
  # one leaves the running servers alone (`up` is idempotent).
  local before_fpm before_nginx
  before_fpm=$(cat "$STATE/php-fpm.conf" 2>/dev/null || true)
  before_nginx=$(cat "$STATE/nginx.conf" 2>/dev/null || true)
  write_fpm_config
  write_nginx_config
  [ "$before_fpm" = "$(cat "$STATE/php-fpm.conf")" ] || stop_group "$STATE/php-fpm.pid" php-fpm
  [ "$before_nginx" = "$(cat "$STATE/nginx.conf")" ] || stop_group "$STATE/nginx.pid" nginx
  if ! alive "$STATE/php-fpm.pid" php-fpm; then
    php-fpm8.2 --test --fpm-config "$STATE/php-fpm.conf" >"$STATE/php-fpm.log" 2>&1 \
      || { tail -5 "$STATE/php-fpm.log" >&2; die "php-fpm config refused (log: $STATE/php-fpm.log)"; }
    setsid php-fpm8.2 --nodaemonize --fpm-config "$STATE/php-fpm.conf" \
      >>"$STATE/php-fpm.log" 2>&1 </dev/null &
    echo $! >"$STATE/php-fpm.pid"
  fi
  if ! alive "$STATE/nginx.pid" nginx; then
    port_in_use && die "port $PORT is taken by another program (set ANP_WP_PORT)"
    nginx -t -q -c "$STATE/nginx.conf" >"$STATE/nginx.log" 2>&1 \
      || { tail -5 "$STATE/nginx.log" >&2; die "nginx config refused (log: $STATE/nginx.log)"; }
    setsid nginx -c "$STATE/nginx.conf" -g 'daemon off;' >>"$STATE/nginx.log" 2>&1 </dev/null &
    echo $! >"$STATE/nginx.pid"
    echo "$PORT" >"$STATE/nginx.port"
  fi
  local i code
  for i in $(seq 1 300); do
    code=$(http_code "http://127.0.0.1:$PORT/wp-json/anp-synth/v1/info")
    [ "$code" = 200 ] && return 0
    alive "$STATE/php-fpm.pid" php-fpm || { tail -5 "$STATE/php-fpm.log" >&2; die "php-fpm exited (log: $STATE/php-fpm.log)"; }
    alive "$STATE/nginx.pid" nginx || { tail -5 "$STATE/nginx.log" >&2; die "nginx exited (log: $STATE/nginx.log)"; }
    sleep 0.1
  done
  die "WordPress did not answer on 127.0.0.1:$PORT within 30 s (last HTTP $code; logs in $STATE)"
}

stop_web() {
  stop_group "$STATE/nginx.pid" nginx
  stop_group "$STATE/php-fpm.pid" php-fpm
  stop_group "$STATE/php.pid" php
}

cmd_up() {
  install -d -m 0710 "$STATE"
  install_packages
  chgrp www-data "$STATE"  # PHP (www-data) reaches its socket and the salts, nothing else
  start_mariadb
  register_site
  create_database
  write_config
  install_content
  WORDPRESS_CONFIG=$CONFIG_NAME php -d "error_log=$STATE/php-error.log" "$HERE/wordpress/install.php" "$STATE" \
    >"$STATE/install.log" 2>&1 || { tail -5 "$STATE/install.log" >&2; die "install failed (log: $STATE/install.log)"; }
  start_web
  log "up at http://127.0.0.1:$PORT (state: $STATE)"
}

register_site() {
  install -d -m 0755 "$DB_USERS"
  echo "$STATE" >"$DB_USERS/$(printf '%s' "$STATE" | md5sum | cut -c1-16)"
}

# other_sites: the state dirs of the other registered sites whose web server still runs.
other_sites() {
  local f dir
  for f in "$DB_USERS"/*; do
    [ -s "$f" ] || continue
    dir=$(cat "$f")
    [ "$dir" = "$STATE" ] && continue
    if alive "$dir/nginx.pid" nginx || alive "$dir/php.pid" php; then echo "$dir"; fi
  done
}

cmd_stop() {
  [ -d "$STATE" ] || return 0
  stop_web
  rm -f "$DB_USERS/$(printf '%s' "$STATE" | md5sum | cut -c1-16)"
  if alive "$STATE/mariadb.pid" mariadbd; then
    local others
    others=$(other_sites)
    if [ -n "$others" ]; then
      log "stopped; MariaDB (started here) keeps running for $(echo "$others" | tr '\n' ' ')"
      return 0
    fi
    stop_group "$STATE/mariadb.pid" mariadbd
  fi
  log "stopped"
}

cmd_reset() {
  install -d -m 0710 "$STATE"
  install_packages
  stop_web
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
  if alive "$STATE/nginx.pid" nginx && alive "$STATE/php-fpm.pid" php-fpm; then
    echo "wordpress: running on http://127.0.0.1:$(cat "$STATE/nginx.port") (nginx pid $(cat "$STATE/nginx.pid"), php-fpm pid $(cat "$STATE/php-fpm.pid"), $WORKERS workers)"
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
