# shellcheck shell=bash disable=SC2034  # variables for the scripts that source this file
# Shared by the scripts in this folder. Source it; it defines functions and paths only.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
data="$root/.data"
temporal="$tools/bin/temporal"
temporal_version="v1.5.1"
pg_port="${COURIER_PG_PORT:-5433}"

# Messages go to stderr, so that one said inside `$(...)` (start_temporal, start_mailpit print a
# pid on stdout) still reaches the terminal.
say() { printf '\033[1m[%s]\033[0m %s\n' "$(basename "$0")" "$*" >&2; }

# wait_for SECONDS COMMAND...: retries COMMAND until it succeeds, or fails after SECONDS.
wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    sleep 0.2
  done
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

temporal_up() { "$temporal" operator cluster health --address "127.0.0.1:$1" 2>/dev/null | grep -q SERVING; }

# The dev server's settings beyond its defaults, used wherever Courier starts one (setup, tests,
# bench): Courier's search attributes; SQLite in WAL mode with synchronous=NORMAL (one fsync per
# checkpoint instead of one per commit; an OS crash can lose the last commits, a process crash
# cannot), which the CLI's own tests cover; eager activity dispatch, off by default in the
# server, so an activity scheduled by a workflow task goes straight back to the worker that
# completed it instead of through a task-queue poll; and one partition per task queue (the default
# of 4 spreads one node's polls and tasks thin and forwards between partitions).
temporal_dev_flags=(
  --search-attribute OrderStatus=Keyword
  --search-attribute CustomerId=Keyword
  --search-attribute ShopId=Keyword
  --sqlite-pragma journal_mode=WAL
  --sqlite-pragma synchronous=NORMAL
  --sqlite-pragma busy_timeout=5000
  --dynamic-config-value system.enableActivityEagerExecution=true
  --dynamic-config-value matching.numTaskqueueReadPartitions=1
  --dynamic-config-value matching.numTaskqueueWritePartitions=1
)

# How start_temporal runs the server, for reports.
temporal_description() {
  echo "Temporal CLI $temporal_version dev server: ${temporal_dev_flags[*]}"
}

# start_temporal PORT UI_PORT DB_FILE LOG: a dev server with Courier's settings; an empty UI_PORT
# means headless, an empty DB_FILE means in memory. Prints the server's pid.
start_temporal() {
  local port="$1" ui_port="$2" db_file="$3" log="$4" args=()
  if [ -n "$ui_port" ]; then args+=(--ui-port "$ui_port"); else args+=(--headless); fi
  if [ -n "$db_file" ]; then args+=(--db-filename "$db_file"); fi
  nohup "$temporal" server start-dev --ip 127.0.0.1 --port "$port" "${args[@]}" --log-level warn \
    "${temporal_dev_flags[@]}" >"$log" 2>&1 &
  local pid=$!
  if ! wait_for 90 temporal_up "$port"; then
    say "Temporal did not start on port $port; its log ($log):"; tail -20 "$log" >&2
    return 1
  fi
  echo "$pid"
}
