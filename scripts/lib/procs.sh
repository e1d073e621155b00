# Process helpers for the scripts that start a server of their own (sourced, not run):
# a recorded pid is only ever signalled while it still runs the program we started, and a
# server is stopped by its process group (it runs under setsid), TERM first, then KILL.

# pid_alive PIDFILE PATTERN...: the recorded pid runs and its command line holds every PATTERN
# (a recycled pid must never be killed).
pid_alive() {
  local pidfile=$1 pid pattern
  shift
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -d "/proc/$pid" ] || return 1
  for pattern in "$@"; do
    grep -q -- "$pattern" "/proc/$pid/cmdline" 2>/dev/null || return 1
  done
}

# stop_group PIDFILE PATTERN...: TERM the process group the recorded pid leads, wait up to
# 10 s, then KILL; the pid file goes. Prints the pid it stopped (nothing when none ran).
stop_group() {
  local pidfile=$1 pid i
  if ! pid_alive "$@"; then
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
  echo "$pid"
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
