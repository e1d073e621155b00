# Shared shell helpers for the scripts that start servers (scripts/wordpress.sh, scripts/varnish.sh):
# processes are started under setsid with their pid recorded in a file, and stopped by that pid's
# process group — never by name. Sourced, not run.

# alive PIDFILE EXPECTED_EXE: true when the recorded pid runs and is still the program we started
# (its command line names EXPECTED_EXE: a recycled pid must never be killed).
alive() {
  local pidfile=$1 exe=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -d "/proc/$pid" ] || return 1
  grep -q -- "$exe" "/proc/$pid/cmdline" 2>/dev/null
}

# stop_group PIDFILE EXPECTED_EXE: TERM the process group the recorded pid leads, wait up to 10 s,
# then KILL the group; removes the pid file. Nothing to do (true) when it does not run.
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

# packages_missing PACKAGE...: true when one of the Debian packages is not installed.
packages_missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 0
  done
  return 1
}

# free_port: a TCP port on 127.0.0.1 that nothing listened on a moment ago.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
