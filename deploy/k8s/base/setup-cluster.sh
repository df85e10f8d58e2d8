#!/bin/sh
# temporal-admin-tools (temporalio/admin-tools): once the server answers, creates Courier's namespace
# and registers the search attributes the order workflow upserts (OrderStatus, CustomerId, ShopId,
# all Keyword). Idempotent: what exists is left alone, and "already exists" counts as done.
# Environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_NAMESPACE_RETENTION (72h).
set -eu
address="${TEMPORAL_ADDRESS:-temporal:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
retention="${TEMPORAL_NAMESPACE_RETENTION:-72h}"
attributes="OrderStatus CustomerId ShopId"

# retry SECONDS COMMAND...: runs COMMAND every 2 s until it succeeds; fails after SECONDS.
retry() {
  deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    sleep 2
  done
}

healthy() { temporal operator cluster health --address "$address" 2>/dev/null | grep -q SERVING; }

ensure_namespace() {
  temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1 && return 0
  out=$(temporal operator namespace create --address "$address" --namespace "$namespace" \
    --retention "$retention" 2>&1) && return 0
  case "$out" in *[Aa]lready*) return 0 ;; esac
  echo "$out" >&2
  return 1
}

has_attribute() {
  temporal operator search-attribute list --address "$address" --namespace "$namespace" 2>/dev/null |
    grep -qw "$1"
}

ensure_attribute() {
  has_attribute "$1" && return 0
  out=$(temporal operator search-attribute create --address "$address" --namespace "$namespace" \
    --name "$1" --type Keyword 2>&1) && return 0
  case "$out" in *[Aa]lready*) return 0 ;; esac
  # A namespace created a moment ago can take a few seconds to reach every service.
  echo "$out" >&2
  return 1
}

echo "temporal-admin-tools: waiting for Temporal at $address"
retry 180 healthy || { echo "temporal-admin-tools: Temporal at $address is not serving" >&2; exit 1; }
retry 60 ensure_namespace
echo "temporal-admin-tools: namespace $namespace is there"
for attribute in $attributes; do
  retry 60 ensure_attribute "$attribute"
  echo "temporal-admin-tools: search attribute $attribute (Keyword) is there"
done
