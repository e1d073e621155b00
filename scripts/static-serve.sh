#!/usr/bin/env bash
# Serve a built static site (Hugo's public/, Jekyll's or Eleventy's _site/) with Debian's nginx
# on a free loopback port, so that `anp-synth loadtest --target URL --ledger L` can load it.
#
#   scripts/static-serve.sh install   apt-get install nginx if missing (the system service is
#                                     never started: our nginx has its own prefix and config)
#   scripts/static-serve.sh up DIR    install, then serve DIR on 127.0.0.1; prints the site's URL
#   scripts/static-serve.sh stop      stop what `up` started, by its recorded pid (process group)
#   scripts/static-serve.sh status    say what runs (the URL and the folder); exit 3 when nothing
#
# Environment: ANP_STATIC_PORT (default: a free port), ANP_STATIC_STATE_DIR (default
# /var/tmp/anp-static: config, pid, logs), ANP_STATIC_WORKERS (nginx worker processes, default
# 1), ANP_STATIC_MAX_AGE (seconds of Cache-Control max-age on every answer, default 60). nginx
# runs in the foreground (daemon off) under setsid and is stopped by its process group; as
# root, its workers run as the owner of DIR (so a private folder can be served).
set -euo pipefail

STATE=${ANP_STATIC_STATE_DIR:-/var/tmp/anp-static}
WORKERS=${ANP_STATIC_WORKERS:-1}
MAX_AGE=${ANP_STATIC_MAX_AGE:-60}

log() { echo "static-serve: $*" >&2; }
die() { echo "static-serve: error: $*" >&2; exit 1; }

# alive, stop_group, free_port (shared with scripts/wordpress.sh and scripts/varnish.sh)
# shellcheck source=lib/procs.sh
. "$(cd "$(dirname "$0")" && pwd)/lib/procs.sh"

# nginx_alive: the recorded pid runs and is the nginx we started with this state dir's config
# (a recycled pid must never be killed).
nginx_alive() { alive "$STATE/nginx.pid" "$STATE/nginx.conf"; }

cmd_install() {
  command -v nginx >/dev/null 2>&1 && return 0
  [ -x /usr/sbin/nginx ] && return 0
  [ "$(id -u)" = 0 ] || die "nginx is missing; run as root to apt-get install it"
  command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian 12 (bookworm)"
  mkdir -p "$STATE"
  log "installing nginx (apt-get, ~10 s)"
  export DEBIAN_FRONTEND=noninteractive
  # The package starts a system nginx on port 80: refuse service starts while installing.
  local policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
  fi
  local ok=0
  apt-get update -qq >"$STATE/apt.log" 2>&1 \
    && apt-get install -y -qq --no-install-recommends nginx >>"$STATE/apt.log" 2>&1 || ok=1
  [ -z "$policy" ] || rm -f "$policy"
  [ "$ok" = 0 ] || { tail -5 "$STATE/apt.log" >&2; die "apt-get install nginx failed (log: $STATE/apt.log)"; }
}

# The config: one server on 127.0.0.1:PORT with DIR as its root, every path nginx writes under
# the state dir (Debian's compiled-in /var/lib/nginx and /var/log/nginx are never used).
write_conf() {
  local dir=$1 port=$2 user=""
  if [ "$(id -u)" = 0 ]; then
    user="user $(stat -c '%U %G' "$dir");"
  fi
  mkdir -p "$STATE/tmp"
  cat >"$STATE/nginx.conf.new" <<EOF
# written by scripts/static-serve.sh: serves $dir
$user
worker_processes $WORKERS;
pid $STATE/nginx.pid.nginx;
error_log $STATE/error.log warn;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  access_log $STATE/access.log combined buffer=64k flush=1s;
  client_body_temp_path $STATE/tmp/body;
  proxy_temp_path $STATE/tmp/proxy;
  fastcgi_temp_path $STATE/tmp/fastcgi;
  uwsgi_temp_path $STATE/tmp/uwsgi;
  scgi_temp_path $STATE/tmp/scgi;
  server_tokens off;
  server {
    listen 127.0.0.1:$port;
    root $dir;
    index index.html;
    absolute_redirect off;
    etag on;
    # a static site has no bypass rules: every answer may be kept, and revalidated by its ETag
    add_header Cache-Control "public, max-age=$MAX_AGE" always;
    location / {
      try_files \$uri \$uri/ =404;
    }
  }
}
EOF
  mv "$STATE/nginx.conf.new" "$STATE/nginx.conf"
}

cmd_up() {
  [ $# -eq 1 ] || die "usage: $0 up DIR (the built site: Hugo's public/, Jekyll's or Eleventy's _site/)"
  local dir port i
  [ -d "$1" ] || die "$1: not a directory"
  dir=$(cd "$1" && pwd)
  [ -f "$dir/index.html" ] || die "$dir: no index.html, not a built site (build it first: hugo → public/, jekyll/eleventy → _site/)"
  if nginx_alive; then
    if [ "$(cat "$STATE/root")" = "$dir" ]; then
      log "already running: $(cat "$STATE/url") serving $dir"
      cat "$STATE/url"
      return 0
    fi
    die "already serving $(cat "$STATE/root") at $(cat "$STATE/url"): stop it first"
  fi
  cmd_install
  mkdir -p "$STATE"
  port=${ANP_STATIC_PORT:-$(free_port)}
  write_conf "$dir" "$port"
  nginx -t -q -p "$STATE" -e "$STATE/error.log" -c "$STATE/nginx.conf" 2>"$STATE/check.log" \
    || { tail -5 "$STATE/check.log" >&2; die "nginx refused the config (see $STATE/nginx.conf)"; }
  setsid nginx -p "$STATE" -e "$STATE/error.log" -c "$STATE/nginx.conf" -g "daemon off;" \
    >"$STATE/nginx.log" 2>&1 </dev/null &
  echo $! >"$STATE/nginx.pid"
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "http://127.0.0.1:$port" >"$STATE/url"
      echo "$dir" >"$STATE/root"
      log "up: http://127.0.0.1:$port serving $dir (pid $(cat "$STATE/nginx.pid"), logs in $STATE)"
      cat "$STATE/url"
      return 0
    fi
    nginx_alive || { tail -5 "$STATE/error.log" "$STATE/nginx.log" >&2 2>/dev/null; rm -f "$STATE/nginx.pid"; die "nginx exited (log: $STATE/error.log)"; }
    sleep 0.1
  done
  cmd_stop
  die "nginx did not listen on 127.0.0.1:$port within 10 s (log: $STATE/error.log)"
}

cmd_stop() {
  local pid
  if ! nginx_alive; then
    rm -f "$STATE/nginx.pid" "$STATE/url" "$STATE/root"
    log "not running"
    return 0
  fi
  pid=$(cat "$STATE/nginx.pid")
  # TERM is nginx's fast shutdown; the group holds the master and its workers
  stop_group "$STATE/nginx.pid" "$STATE/nginx.conf"
  rm -f "$STATE/url" "$STATE/root"
  log "stopped (pid $pid)"
}

cmd_status() {
  if nginx_alive; then
    echo "static-serve: running, pid $(cat "$STATE/nginx.pid"), $(cat "$STATE/url") serving $(cat "$STATE/root")"
  else
    echo "static-serve: not running"
    return 3
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  up) shift; cmd_up "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|up DIR|stop|status" >&2; exit 2 ;;
esac
