#!/bin/bash
# http-healthcheck ADDR_VARIABLE PATH: exits 0 when GET PATH on this container answers 2xx.
# The port is the one in the listen address held by ADDR_VARIABLE (e.g. COURIER_API_ADDR=0.0.0.0:8080),
# so the check follows a changed address. Uses bash's /dev/tcp: the slim image has no curl or wget.
set -euo pipefail
addr="${!1:-}"
path="${2:-/healthz}"
port="${addr##*:}"
if [[ ! "$port" =~ ^[0-9]+$ ]]; then
  echo "http-healthcheck: \$$1 ($addr) has no port" >&2
  exit 2
fi
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 5 status <&3
status="${status%$'\r'}"
echo "$status"
[[ "$status" =~ ^HTTP/1\.[01]\ 2[0-9][0-9] ]]
