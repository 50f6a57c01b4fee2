#!/usr/bin/env bash
# etcd's figures for the data-API workloads of `npm run bench:kv` (issue 14), to print beside
# Concord's in the same session: a 3-member etcd cluster on loopback and etcd's own Go `benchmark`
# tool running `put`, `txn-put` (2 puts per txn; etcd's tool has no compares), `watch-latency`
# (1,000 watchers on one key) and `lease-keepalive`.
#
#   bash scripts/etcd-data-api-anchor.sh [scale]   scale multiplies the request totals (default 1)
#
# etcd comes from Debian (etcd-server, etcd-client); the benchmark tool is the one
# ../shared/anchors/etcd-bench.sh builds from Debian's etcd source (cached in
# /tmp/anchors-gopath/bin). When either is missing the script says so and exits 0: it is a
# measurement, not a test. Everything listens on 127.0.0.1; data lives under a temp dir, removed
# on exit, and the members are stopped by PID.
set -euo pipefail
SCALE="${1:-1}"
BENCH=/tmp/anchors-gopath/bin/etcd-benchmark
if ! command -v etcd >/dev/null || [ ! -x "$BENCH" ]; then
  echo "etcd-data-api-anchor: skipped: needs etcd (Debian etcd-server) and $BENCH (built by ../shared/anchors/etcd-bench.sh)"
  exit 0
fi

DATA="$(mktemp -d /tmp/concord-etcd-anchor.XXXXXX)"
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

# Ports away from the anchors' (237xx/238xx) and from concord dev's.
C=(24791 24792 24793); P=(24801 24802 24803)
CLUSTER="m1=http://127.0.0.1:${P[0]},m2=http://127.0.0.1:${P[1]},m3=http://127.0.0.1:${P[2]}"
ALL="127.0.0.1:${C[0]},127.0.0.1:${C[1]},127.0.0.1:${C[2]}"
for i in 0 1 2; do
  n="m$((i + 1))"
  etcd --name "$n" --data-dir "$DATA/$n" \
    --listen-client-urls "http://127.0.0.1:${C[$i]}" --advertise-client-urls "http://127.0.0.1:${C[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${P[$i]}" --initial-advertise-peer-urls "http://127.0.0.1:${P[$i]}" \
    --initial-cluster "$CLUSTER" --initial-cluster-token concord-anchor --initial-cluster-state new \
    --logger zap --log-outputs "$DATA/$n.log" --log-level warn &
  PIDS+=("$!")
done
for _ in $(seq 1 100); do etcdctl --endpoints="$ALL" endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
LEADER=$(etcdctl --endpoints="$ALL" endpoint status -w json | node -e '
  const s = JSON.parse(require("fs").readFileSync(0, "utf8"));
  console.log(s.find((e) => e.Status.header.member_id === e.Status.leader).Endpoint.replace("http://", ""));')
echo "etcd $(etcd --version | head -1 | awk '{print $3}'), 3 members, leader $LEADER, load average $(cut -d' ' -f1 /proc/loadavg)"

# run LABEL ARGS...: one row from the tool's summary (Requests/sec, 50% and 99% latency).
printf '%-44s %10s %9s %9s\n' workload "ops/s" "p50 ms" "p99 ms"
run() {
  local label=$1; shift
  local log="$DATA/run.log"
  timeout 300 "$BENCH" --precise --endpoints="$LEADER" "$@" > "$log" 2>&1 || true
  node -e '
    const log = require("fs").readFileSync(process.argv[1], "utf8");
    const g = (re) => { const m = log.match(re); return m ? Number(m[1]) : NaN; };
    const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : "-");
    console.log(process.argv[2].padEnd(44), f(g(/Requests\/sec:\s+([\d.]+)/), 0).padStart(10),
      f(g(/50% in ([\d.]+) secs/) * 1e3, 3).padStart(9), f(g(/99% in ([\d.]+) secs/) * 1e3, 3).padStart(9));
  ' "$log" "$label"
}
PUT="--key-size=8 --val-size=256 --key-space-size=10000"
run "put, 64 clients"                      --conns=1 --clients=64 put $PUT --total=$((20000 * SCALE))
run "txn-put (2 puts), 64 clients"         --conns=1 --clients=64 txn-put $PUT --txn-ops=2 --total=$((20000 * SCALE))
run "watch-latency, 1,000 watchers (1 key)" --conns=100 --clients=1000 watch-latency --total=$((200 * SCALE)) --put-rate=100 --val-size=256
run "lease-keepalive, 64 clients"          --conns=1 --clients=64 lease-keepalive --total=$((100000 * SCALE))
echo "(watch-latency: one put at a time at 100/s, each delivered to every watcher; p50/p99 are put-ack to delivery)"
