# shellcheck shell=bash disable=SC2154  # root, data, tools and say come from lib.sh
# The notification peers for tests, on loopback: Mailpit (an SMTP server whose REST API shows what it
# received) and Prism (a mock of Twilio's REST API that validates requests against Twilio's OpenAPI
# description in shared/third_party/twilio). Source it after lib.sh: it uses `root`, `say` and
# `wait_for`, and defines functions and paths only.
#   install_peers                           installs both into .tools (once; fast when present)
#   install_fuzzer                          installs Schemathesis (PyPI) into .tools/fuzz-venv (once)
#   install_browser                         installs Debian's chromium, chromium-driver, fonts-nanum (once)
#   start_mailpit SMTP_PORT HTTP_PORT LOG    prints the pid; API at http://127.0.0.1:HTTP_PORT/api/v1
#   start_prism PORT LOG                     prints the pid; Twilio at http://127.0.0.1:PORT/2010-04-01
# Extra arguments after these go to mailpit / `prism mock` (e.g. --enable-chaos, --errors, -v debug).

mailpit_version="v1.27.11"
prism_version="5.14.2" # the newest whose engines allow Node 20 (5.15+ want Node 24)
mailpit_bin="$root/.tools/bin/mailpit"
prism_dir="$root/.tools/node"
prism_bin="$prism_dir/node_modules/.bin/prism"
twilio_spec="${COURIER_TWILIO_SPEC:-$(cd "$root/.." && pwd)/shared/third_party/twilio/twilio_api_v2010.json}"

install_peers() {
  mkdir -p "$root/.tools/bin"
  # Mailpit. `go install github.com/axllent/mailpit@VERSION` fails here: it also asks the proxy for
  # the module's version list (to look for a deprecation), which the proxy refuses. So download the
  # module (checked against the Go checksum database as usual) and build it in place; it has no replace
  # directives. Its web UI's built assets are not in the module: the UI page is empty, the API works.
  if [ ! -x "$mailpit_bin" ] || ! "$mailpit_bin" version --no-release-check 2>/dev/null | grep -qF " $mailpit_version "; then
    say "building Mailpit $mailpit_version from the Go module proxy (a minute or two, once)"
    local dir
    dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/axllent/mailpit@$mailpit_version" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    if [ -z "$dir" ] || [ ! -f "$dir/go.mod" ]; then say "could not download Mailpit $mailpit_version"; return 1; fi
    (cd "$dir" && GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/axllent/mailpit/config.Version=$mailpit_version" \
      -o "$mailpit_bin.tmp" .) || return 1
    mv -f "$mailpit_bin.tmp" "$mailpit_bin"
  fi
  # Prism, from npm. Its version is read from its package.json (running it costs a second).
  local have=""
  if [ -f "$prism_dir/node_modules/@stoplight/prism-cli/package.json" ]; then
    have=$(sed -n 's/^[[:space:]]*"version": "\(.*\)",$/\1/p' "$prism_dir/node_modules/@stoplight/prism-cli/package.json" | head -n1)
  fi
  # Installed from the lockfile committed in tests/peers, so every machine gets the same tree.
  if [ ! -x "$prism_bin" ] || [ "$have" != "$prism_version" ] ||
     ! cmp -s "$root/tests/peers/package-lock.json" "$prism_dir/package-lock.json"; then
    say "installing Prism $prism_version from npm (once)"
    mkdir -p "$prism_dir"
    cp "$root/tests/peers/package.json" "$root/tests/peers/package-lock.json" "$prism_dir/"
    SCARF_ANALYTICS=false npm ci --prefix "$prism_dir" --no-audit --no-fund --loglevel=error >/dev/null || return 1
  fi
  if [ ! -f "$twilio_spec" ]; then say "Twilio's OpenAPI description is missing: $twilio_spec"; return 1; fi
}

# Schemathesis, the property-based API fuzzer of tests/tests/fuzz.rs, pinned, from PyPI.
schemathesis_requirement="schemathesis==4.32.5"
fuzz_venv="$root/.tools/fuzz-venv"

# install_browser: Debian's Chromium and its WebDriver, for the web front end's browser tests
# (tests/tests/browser.rs), and a Korean font so the Korean screens render (apt-get, once).
install_browser() {
  if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! fc-list 2>/dev/null | grep -qi nanum; then
    say "installing chromium, chromium-driver and fonts-nanum (apt-get, once)"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-nanum >/dev/null
  fi
}

install_fuzzer() {
  if [ ! -x "$fuzz_venv/bin/schemathesis" ] ||
     [ "$(cat "$fuzz_venv/.requirements" 2>/dev/null)" != "$schemathesis_requirement" ]; then
    say "installing $schemathesis_requirement from PyPI into .tools/fuzz-venv (once)"
    rm -rf "$fuzz_venv"
    python3 -m venv "$fuzz_venv" || return 1
    "$fuzz_venv/bin/pip" install --quiet --disable-pip-version-check "$schemathesis_requirement" || return 1
    printf '%s' "$schemathesis_requirement" >"$fuzz_venv/.requirements"
  fi
}

# _up_or_gone PID COMMAND...: true when PID has exited or COMMAND succeeds (so wait_for stops early
# on a crash, e.g. a port taken, instead of waiting out its deadline).
_up_or_gone() { local pid="$1"; shift; ! kill -0 "$pid" 2>/dev/null || "$@"; }

# _mailpit_up SMTP_PORT HTTP_PORT: the API answers and the SMTP port greets as Mailpit (the API is
# up first, and Mailpit exits a moment later if the SMTP port is taken).
_mailpit_up() {
  "$mailpit_bin" readyz --listen "127.0.0.1:$2" || return 1
  ( exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    IFS= read -r -t 2 line <&3 || exit 1
    printf 'QUIT\r\n' >&3
    [[ "$line" == 220*Mailpit* ]] )
}

# start_mailpit SMTP_PORT HTTP_PORT LOG [MAILPIT ARGS...]: plain SMTP (no TLS) on 127.0.0.1:SMTP_PORT
# that takes mail with no AUTH or with any user and password; the API and UI on 127.0.0.1:HTTP_PORT.
# Messages are kept in a temporary database that Mailpit deletes when it is stopped (SIGTERM), with
# no limit on their number. Prints the pid.
start_mailpit() {
  local smtp_port="$1" http_port="$2" log="$3"; shift 3
  nohup "$mailpit_bin" --smtp "127.0.0.1:$smtp_port" --listen "127.0.0.1:$http_port" \
    --disable-version-check --smtp-disable-rdns --max 0 \
    --smtp-auth-accept-any --smtp-auth-allow-insecure "$@" >"$log" 2>&1 &
  local pid=$!
  if ! wait_for 30 _up_or_gone "$pid" _mailpit_up "$smtp_port" "$http_port" || ! kill -0 "$pid" 2>/dev/null; then
    say "Mailpit did not start (SMTP $smtp_port, HTTP $http_port); its log ($log):"; tail -20 "$log" >&2
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  echo "$pid"
}

_prism_up() { grep -qF "Prism is listening on http://127.0.0.1:$2" "$1"; }

# start_prism PORT LOG [PRISM MOCK ARGS...]: Twilio's API on 127.0.0.1:PORT. Responses are the
# spec's static examples (no dynamic generation), so they are the same every time; requests that
# break the spec get 422 (or 401 without basic auth, 415 for a wrong content type). Prints the pid.
start_prism() {
  local port="$1" log="$2"; shift 2
  SCARF_ANALYTICS=false nohup "$prism_bin" mock -h 127.0.0.1 -p "$port" --dynamic=false "$@" \
    "$twilio_spec" >"$log" 2>&1 &
  local pid=$!
  if ! wait_for 60 _up_or_gone "$pid" _prism_up "$log" "$port" || ! kill -0 "$pid" 2>/dev/null; then
    say "Prism did not start on port $port; its log ($log):"; tail -20 "$log" >&2
    kill "$pid" 2>/dev/null || true
    return 1
  fi
  echo "$pid"
}
