#!/usr/bin/env bash
# Starts N API instances, the read model and HAProxy on this machine, for the experiment (bench) and for trying
# the multi-instance setup. Needs the three databases and RabbitMQ:
#   SEATS_DATABASE_URL, PAYMENTS_DATABASE_URL, TICKETS_DATABASE_URL, AMQP_URL
# Optional: API_INSTANCES (default 2), PROXY_PORT (8080), API_BASE_PORT (4001), READ_MODEL_PORT (4100),
#   OPERATOR_TOKEN, HAPROXY_STATS_PASSWORD (throwaway ones are generated when unset), and every
#   setting of src/config.ts (failure injection, limits), passed on to the API instances.
# Stops everything on Ctrl-C / SIGTERM. Build first: npm run build -w cinema-demo.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v haproxy >/dev/null 2>&1; then
  echo "error: haproxy is not installed. Install it from the OS packages (Debian/Ubuntu: apt-get install -y haproxy) and run this again." >&2
  exit 1
fi
for name in SEATS_DATABASE_URL PAYMENTS_DATABASE_URL TICKETS_DATABASE_URL AMQP_URL; do
  if [ -z "${!name:-}" ]; then
    echo "error: $name is not set (the cluster needs the three databases and RabbitMQ)" >&2
    exit 1
  fi
done
if [ ! -f "$here/dist/api-server.js" ]; then
  echo "error: $here/dist/api-server.js is missing: run 'npm run build -w cinema-demo' first" >&2
  exit 1
fi

instances="${API_INSTANCES:-2}"
proxy_port="${PROXY_PORT:-8080}"
api_base="${API_BASE_PORT:-4001}"
read_model_port="${READ_MODEL_PORT:-4100}"
stats_port="${HAPROXY_STATS_PORT:-8404}"
secret() { node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"; }
if [ -z "${OPERATOR_TOKEN:-}" ]; then export OPERATOR_TOKEN="$(secret)"; echo "OPERATOR_TOKEN not set: throwaway token $OPERATOR_TOKEN"; fi
if [ -z "${HAPROXY_STATS_PASSWORD:-}" ]; then export HAPROXY_STATS_PASSWORD="$(secret)"; echo "HAPROXY_STATS_PASSWORD not set: throwaway password $HAPROXY_STATS_PASSWORD"; fi
export HAPROXY_STATS_BIND="127.0.0.1:$stats_port"
export APP_ORIGIN="${APP_ORIGIN:-http://127.0.0.1:$proxy_port}"

run_dir="$(mktemp -d)"
pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "logs kept in $run_dir"
}
trap stop INT TERM EXIT

# The repo's config rendered for this machine's processes (the same renderer as the failover test and the bench).
api_servers=""
for i in $(seq 1 "$instances"); do
  api_servers+="${api_servers:+,}127.0.0.1:$((api_base + i - 1))"
done
node "$here/dist/render-haproxy-config.js" --template "$here/deploy/haproxy.cfg" --bind "127.0.0.1:$proxy_port" \
  --api "$api_servers" --read-model "127.0.0.1:$read_model_port" > "$run_dir/haproxy.cfg"
haproxy -c -f "$run_dir/haproxy.cfg" >/dev/null

for i in $(seq 1 "$instances"); do
  PORT=$((api_base + i - 1)) INSTANCE_ID="api-$i" node "$here/dist/api-server.js" > "$run_dir/api-$i.log" 2>&1 &
  pids+=($!)
done
READ_MODEL_PORT="$read_model_port" node "$here/dist/read-model-server.js" > "$run_dir/read-model.log" 2>&1 &
pids+=($!)
haproxy -f "$run_dir/haproxy.cfg" > "$run_dir/haproxy.log" 2>&1 &
pids+=($!)

# Ready when every instance answers its health check through the proxy's own view.
for _ in $(seq 1 60); do
  ok=0
  for i in $(seq 1 "$instances"); do
    curl -fsS "http://127.0.0.1:$((api_base + i - 1))/healthz" >/dev/null 2>&1 && ok=$((ok + 1))
  done
  [ "$ok" -eq "$instances" ] && curl -fsS "http://127.0.0.1:$read_model_port/healthz" >/dev/null 2>&1 && break
  sleep 1
done
echo "cinema demo cluster: $instances API instances, read model, HAProxy"
echo "  open http://127.0.0.1:$proxy_port   (stats: http://$HAPROXY_STATS_BIND, user admin)"
echo "  logs in $run_dir"
# Poll rather than `wait -n`: a trapped signal is then handled within a second.
while :; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "a process of the cluster exited (pid $pid); stopping the others" >&2
      exit 1
    fi
  done
  sleep 1
done
