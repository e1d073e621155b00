#!/usr/bin/env bash
# Varnish (Debian's packages, with vmod_xkey from varnish-modules) in front of a backend on
# 127.0.0.1, running the shipped VCL (anp_synth/edge/anp.vcl), for demos, CI and benches.
#
#   scripts/varnish.sh install                 apt-get install varnish varnish-modules if missing
#   scripts/varnish.sh up --backend HOST:PORT  install, then start varnishd on a free loopback
#                                              port in front of the backend; prints the edge URL
#   scripts/varnish.sh stop                    stop what `up` started, by its recorded pid
#   scripts/varnish.sh status                  say what runs (the edge URL and its backend)
#
# Environment: ANP_VARNISH_PORT (default: a free port), ANP_VARNISH_STATE_DIR (default
# /var/tmp/anp-varnish), ANP_VARNISH_STORAGE (default malloc,128m), ANP_SYNTH (the anp-synth
# command that prints the VCL; default .venv/bin/anp-synth, else anp-synth on PATH). Needs root
# for apt (CI machines are root). No systemd: varnishd runs in the foreground (-F) under setsid
# and is stopped by its process group; its output goes to a log file in the state dir.
set -euo pipefail

STATE=${ANP_VARNISH_STATE_DIR:-/var/tmp/anp-varnish}
STORAGE=${ANP_VARNISH_STORAGE:-malloc,128m}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
PACKAGES=(varnish varnish-modules)

log() { echo "varnish: $*" >&2; }
die() { echo "varnish: error: $*" >&2; exit 1; }

# shellcheck source=lib/procs.sh
. "$HERE/lib/procs.sh"

varnish_alive() { alive "$STATE/varnishd.pid" varnishd; }

cmd_install() {
  mkdir -p "$STATE"
  packages_missing "${PACKAGES[@]}" || return 0
  [ "$(id -u)" = 0 ] || die "packages missing (${PACKAGES[*]}); run as root to apt-get install them"
  command -v apt-get >/dev/null || die "apt-get not found: this script needs Debian 12 (bookworm)"
  # The package enables a systemd service on 0.0.0.0:6081: keep it masked, we start our own.
  mkdir -p /etc/systemd/system
  ln -sf /dev/null /etc/systemd/system/varnish.service
  ln -sf /dev/null /etc/systemd/system/varnishncsa.service
  log "installing ${PACKAGES[*]} (apt-get, ~10-20 s)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$STATE/apt.log" 2>&1 || { tail -5 "$STATE/apt.log" >&2; die "apt-get update failed (log: $STATE/apt.log)"; }
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$STATE/apt.log" 2>&1 \
    || { tail -5 "$STATE/apt.log" >&2; die "apt-get install failed (log: $STATE/apt.log)"; }
}

anp_synth() {
  if [ -n "${ANP_SYNTH:-}" ]; then
    $ANP_SYNTH "$@"
  elif [ -x "$REPO/.venv/bin/anp-synth" ]; then
    "$REPO/.venv/bin/anp-synth" "$@"
  elif command -v anp-synth >/dev/null; then
    anp-synth "$@"
  else
    die "anp-synth not found (make install, or set ANP_SYNTH)"
  fi
}

cmd_up() {
  local backend="" port i
  while [ $# -gt 0 ]; do
    case "$1" in
      --backend) backend=${2:-}; shift 2 ;;
      --backend=*) backend=${1#--backend=}; shift ;;
      *) die "unknown option $1 (usage: $0 up --backend HOST:PORT)" ;;
    esac
  done
  [ -n "$backend" ] || die "--backend HOST:PORT is required (the site to put Varnish in front of)"
  if varnish_alive; then
    log "already running: $(cat "$STATE/url") in front of $(cat "$STATE/backend")"
    cat "$STATE/url"
    return 0
  fi
  cmd_install
  mkdir -p "$STATE"
  anp_synth varnish vcl --backend "$backend" >"$STATE/anp.vcl.new" || die "could not render the VCL"
  mv "$STATE/anp.vcl.new" "$STATE/anp.vcl"
  chmod 0755 "$STATE"
  chmod 0644 "$STATE/anp.vcl"
  port=${ANP_VARNISH_PORT:-$(free_port)}
  setsid varnishd -F -n "$STATE/instance" -a "127.0.0.1:$port" -T none -f "$STATE/anp.vcl" \
    -s "$STORAGE" -p default_grace=0 >"$STATE/varnishd.log" 2>&1 </dev/null &
  echo $! >"$STATE/varnishd.pid"
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "http://127.0.0.1:$port" >"$STATE/url"
      echo "$backend" >"$STATE/backend"
      log "up: http://127.0.0.1:$port in front of $backend (pid $(cat "$STATE/varnishd.pid"), log $STATE/varnishd.log)"
      cat "$STATE/url"
      return 0
    fi
    varnish_alive || { tail -5 "$STATE/varnishd.log" >&2; rm -f "$STATE/varnishd.pid"; die "varnishd exited (log: $STATE/varnishd.log)"; }
    sleep 0.1
  done
  cmd_stop
  die "varnishd did not listen on 127.0.0.1:$port within 10 s (log: $STATE/varnishd.log)"
}

cmd_stop() {
  local pid
  if ! varnish_alive; then
    rm -f "$STATE/varnishd.pid" "$STATE/url"
    log "not running"
    return 0
  fi
  pid=$(cat "$STATE/varnishd.pid")
  stop_group "$STATE/varnishd.pid" varnishd
  rm -f "$STATE/url"
  log "stopped (pid $pid)"
}

cmd_status() {
  if varnish_alive; then
    echo "varnish: running, pid $(cat "$STATE/varnishd.pid"), $(cat "$STATE/url") in front of $(cat "$STATE/backend")"
  else
    echo "varnish: not running"
    return 3
  fi
}

case "${1:-}" in
  install) cmd_install ;;
  up) shift; cmd_up "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 install|up --backend HOST:PORT|stop|status" >&2; exit 2 ;;
esac
