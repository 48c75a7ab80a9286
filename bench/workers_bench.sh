#!/usr/bin/env bash
# Benchmark (not a test): POST /oauth2/token with `kindling serve --workers 1` and
# `--workers 2`, alternated in one run, on this whole machine (the load generator shares it).
#
#   bench/workers_bench.sh [ROUNDS=2] [SECONDS=8]
#
# Each round starts a fresh server per worker count (order 1 2, then 2 1, ...: the host
# drifts), waits until every worker has started, warms up, then drives it with wrk for
# SECONDS. Nothing is pinned: the workers and wrk share both CPUs, as a small deployment
# would. Reported per worker count: tokens/s (wrk), server CPU (utime+stime of the
# supervisor and every worker, from /proc, before/after), tokens per server CPU-second,
# the CPU everything else used (wrk and neighbours, from /proc/stat), and latency; first,
# the RS256 signing ceiling of one core at that moment (bench/benchlib.py rsa-limit).
# Results: a table on stdout and bench/results/workers-<timestamp>.json (gitignored).
#
# Environment:
#   WORKERS       worker counts to alternate (default "1 2")
#   CONNS         wrk connections (default 32)
#   WRK_THREADS   wrk threads (default 1)
#   WARMUP        warm-up seconds (default 2)
#   SCOPE         scope to ask for (default empty: the bootstrap app's 149 scopes, 10 kB token)
#   ENGINE        sqlite (default) or postgres: a fresh schema on KINDLING_BENCH_PG
#                 (default postgresql://postgres@127.0.0.1:5432/test), dropped afterwards
#   KINDLING_PORT (default 18090)
#   VENV          Python venv with kindling installed (default <repo>/.venv)
# Traffic goes to 127.0.0.1 only; every load run is bounded by wrk's -d.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-2}"
SECS="${2:-8}"
WORKERS="${WORKERS:-1 2}"
CONNS="${CONNS:-32}"
WRK_THREADS="${WRK_THREADS:-1}"
WARMUP="${WARMUP:-2}"
SCOPE="${SCOPE:-}"
ENGINE="${ENGINE:-sqlite}"
PG_ADMIN="${KINDLING_BENCH_PG:-postgresql://postgres@127.0.0.1:5432/test}"
PORT="${KINDLING_PORT:-18090}"
VENV="${VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
KINDLING="$VENV/bin/kindling"
LIB="$REPO/bench/benchlib.py"
HZ="$(getconf CLK_TCK)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS_DIR="$REPO/bench/results"
OUT_JSON="$RESULTS_DIR/workers-$STAMP.json"

die() { echo "workers_bench: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "need wrk (apt-get install -y wrk)"
[ -x "$KINDLING" ] || die "no kindling in $VENV (python -m venv .venv && pip install -e .)"
case "$ENGINE" in sqlite|postgres) ;; *) die "ENGINE must be sqlite or postgres" ;; esac

WORK="$(mktemp -d "${TMPDIR:-/tmp}/workers-bench.XXXXXX")"
SRV=""
SCHEMAS=()
stop_server() {
  if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then
    kill -INT "$SRV" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SRV" 2>/dev/null || true
    wait "$SRV" 2>/dev/null || true
  fi
  SRV=""
}
drop_schemas() {
  for schema in ${SCHEMAS[@]+"${SCHEMAS[@]}"}; do
    "$PY" -c 'import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute(f"DROP SCHEMA IF EXISTS {sys.argv[2]} CASCADE")' "$PG_ADMIN" "$schema" || true
  done
}
cleanup() { stop_server; drop_schemas; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
tree_pids() {  # pid: it and every process below it
  local child
  echo "$1"
  for child in $(pgrep -P "$1" 2>/dev/null || true); do tree_pids "$child"; done
}
tree_cpu() {  # pid: utime+stime (clock ticks) of the process tree
  local total=0 pid ticks
  for pid in $(tree_pids "$1"); do
    ticks="$(awk '{print $14+$15}' "/proc/$pid/stat" 2>/dev/null || echo 0)"
    total=$((total + ticks))
  done
  echo "$total"
}
tree_rss() {  # pid: VmRSS (KiB) of the process tree
  local total=0 pid kib
  for pid in $(tree_pids "$1"); do
    kib="$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)"
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}
machine_busy() { awk '$1=="cpu"{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

# ----------------------------------------------------------------------------- a server
start_server() {  # workers
  local workers="$1" data log cid secret audience body url_env=() schema
  port_free "$PORT" || die "port $PORT is in use"
  data="$(mktemp -d "$WORK/data.XXXXXX")"
  log="$data/server.log"
  if [ "$ENGINE" = postgres ]; then
    schema="wb_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    "$PY" -c 'import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as c:
    c.execute(f"CREATE SCHEMA {sys.argv[2]}")' "$PG_ADMIN" "$schema"
    SCHEMAS+=("$schema")
    url_env=("KINDLING_DATABASE_URL=$PG_ADMIN?options=-csearch_path%3D$schema")
  fi
  # The benchmark measures issuance, not the per-client rate limit (50/s by default).
  env KINDLING_RATE_LIMITS=off ${url_env[@]+"${url_env[@]}"} "$KINDLING" serve --no-access-log \
    --workers "$workers" --port "$PORT" --data-dir "$data" >"$log" 2>&1 &
  SRV=$!
  for _ in $(seq 1 600); do
    [ "$(grep -c 'Application startup complete' "$log" || true)" -ge "$workers" ] && break
    kill -0 "$SRV" 2>/dev/null || { cat "$log" >&2; die "kindling exited"; }
    sleep 0.1
  done
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" || { cat "$log" >&2; die "kindling did not start"; }
  cid="$(awk '/client id:/{print $3; exit}' "$log")"
  secret="$(awk '/client secret:/{print $3; exit}' "$log")"
  audience="$(awk '/Management API:/{print $3; exit}' "$log")"
  [ -n "$cid" ] && [ -n "$secret" ] && [ -n "$audience" ] || die "no credentials in the banner ($log)"
  body="grant_type=client_credentials&client_id=$cid&client_secret=$secret&audience=$(
    "$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$audience")"
  [ -n "$SCOPE" ] && body="$body&scope=${SCOPE// /+}"
  LUA="$WORK/token.lua"
  cat >"$LUA" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "$body"
done = function(summary, latency, requests)
  io.write(string.format("p99.9: %.3fms\\n", latency:percentile(99.9) / 1000))
end
EOF
  URL="http://127.0.0.1:$PORT/oauth2/token"
  curl -sf -X POST "$URL" -H 'content-type: application/x-www-form-urlencoded' --data-raw "$body" \
    >"$WORK/token.json" || die "kindling refused the token request"
  "$PY" "$LIB" check-token "$WORK/token.json" "$WORK/tokinfo.json" >/dev/null
}

# ----------------------------------------------------------------------------- the run
RUNS="$WORK/runs.jsonl"; : >"$RUNS"
echo "workers_bench $STAMP: rounds=$ROUNDS seconds=$SECS warmup=$WARMUP conns=$CONNS" \
  "wrk threads=$WRK_THREADS workers=[$WORKERS] engine=$ENGINE; nothing pinned, $(nproc) CPUs"
echo "load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
# The RS256 signing ceiling of one core right now (2 s): the host's speed drifts.
"$PY" "$LIB" rsa-limit 2 >"$WORK/rsa.json"
echo "RS256 sign ceiling, one core: $("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["signs_per_s"])' "$WORK/rsa.json")/s"
read -r -a ORDER <<<"$WORKERS"
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 0 ]; then   # ABBA: every other round in reverse order
    REV=(); for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do REV+=("${ORDER[$i]}"); done
    CASES=("${REV[@]}")
  else
    CASES=("${ORDER[@]}")
  fi
  for workers in "${CASES[@]}"; do
    start_server "$workers"
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"${WARMUP}s" -s "$LUA" "$URL" >/dev/null
    out="$WORK/wrk-$round-$workers.txt"
    c0=$(tree_cpu "$SRV"); b0=$(machine_busy); t0=$(date +%s.%N)
    wrk -t"$WRK_THREADS" -c"$CONNS" -d"${SECS}s" --latency -s "$LUA" "$URL" >"$out"
    c1=$(tree_cpu "$SRV"); b1=$(machine_busy); t1=$(date +%s.%N)
    procs=$(tree_pids "$SRV" | wc -l)
    "$PY" - "$RUNS" "$round" "$workers" "$c0" "$c1" "$b0" "$b1" "$t0" "$t1" "$HZ" \
      "$(tree_rss "$SRV")" "$procs" "$out" "$LIB" <<'EOF'
import json, subprocess, sys
runs, rnd, workers, c0, c1, b0, b1, t0, t1, hz, rss, procs, out, lib = sys.argv[1:]
hz = int(hz)
wall = float(t1) - float(t0)
wrk = json.loads(subprocess.run([sys.executable, lib, "parse-wrk", out], capture_output=True,
                                text=True, check=True).stdout)
server = (int(c1) - int(c0)) / hz
busy = (int(b1) - int(b0)) / hz
text = open(out).read()
errors = 0
for line in text.splitlines():
    if "Socket errors" in line or "Non-2xx" in line:
        errors += sum(int(n) for n in __import__("re").findall(r"\d+", line))
tokens = wrk["rps"] * wall if wrk["rps"] else 0
run = {
    "round": int(rnd), "workers": int(workers), "seconds": round(wall, 2),
    "tokens_per_s": wrk["rps"], "p50_ms": wrk["p50_ms"], "p99_ms": wrk["p99_ms"],
    "p99_9_ms": wrk["p99_9_ms"], "max_ms": wrk["max_ms"], "errors": errors,
    "server_cpu_s": round(server, 2), "server_cores": round(server / wall, 2),
    "tokens_per_server_cpu_s": round(tokens / server, 1) if server else None,
    "other_cores": round((busy - server) / wall, 2), "server_rss_kib": int(rss),
    "server_processes": int(procs),
}
open(runs, "a").write(json.dumps(run) + "\n")
print(f"  round {rnd}, {workers} worker(s): {wrk['rps']:.0f} tokens/s, server "
      f"{run['server_cores']:.2f} cores, {run['tokens_per_server_cpu_s']} tokens/CPU-s, "
      f"other {run['other_cores']:.2f} cores, p99 {wrk['p99_ms']} ms, errors {errors}")
EOF
    stop_server
  done
done

# ----------------------------------------------------------------------------- results
mkdir -p "$RESULTS_DIR"
"$PY" - "$OUT_JSON" "$RUNS" "$ROUNDS" "$SECS" "$WARMUP" "$CONNS" "$WRK_THREADS" "$WORKERS" \
  "$ENGINE" "$SCOPE" "$REPO" "$WORK/tokinfo.json" "$WORK/rsa.json" <<'EOF'
import json, platform, statistics, subprocess, sys
(out, runs, rounds, secs, warmup, conns, threads, workers, engine, scope, repo,
 tokinfo, rsa) = sys.argv[1:]
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except Exception:
        return None
rows = [json.loads(line) for line in open(runs) if line.strip()]
summary = {}
for n in sorted({r["workers"] for r in rows}):
    mine = [r for r in rows if r["workers"] == n]
    summary[n] = {
        "runs": len(mine),
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in mine),
        "tokens_per_server_cpu_s": statistics.median(r["tokens_per_server_cpu_s"] for r in mine),
        "server_cores": statistics.median(r["server_cores"] for r in mine),
        "other_cores": statistics.median(r["other_cores"] for r in mine),
        "p50_ms": round(statistics.median(r["p50_ms"] for r in mine), 1),
        "p99_ms": round(statistics.median(r["p99_ms"] for r in mine), 1),
        "errors": sum(r["errors"] for r in mine),
        "server_rss_kib": statistics.median(r["server_rss_kib"] for r in mine),
    }
doc = {
    "timestamp_utc": out.rsplit("workers-", 1)[-1].removesuffix(".json"),
    "command": f"bench/workers_bench.sh {rounds} {secs}",
    "params": {"rounds": int(rounds), "seconds": int(secs), "warmup_s": int(warmup),
               "connections": int(conns), "wrk_threads": int(threads),
               "workers": [int(w) for w in workers.split()], "engine": engine,
               "scope": scope or None, "pinned": False},
    "machine": {"kernel": platform.release(), "cpus": sh("nproc"),
                "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                   if l.startswith("model name")), None),
                "loadavg_after": open("/proc/loadavg").read().split()[:3]},
    "versions": {"python": platform.python_version(),
                 "wrk": (sh("wrk", "-v") or "").split(" [")[0] or None,
                 "repo_head": sh("git", "-C", repo, "rev-parse", "--short", "HEAD"),
                 "repo_src_dirty": bool(sh("git", "-C", repo, "status", "--porcelain", "src"))},
    "token": json.load(open(tokinfo)),
    "rsa_limit": json.load(open(rsa)),
    "runs": rows,
    "summary": {str(k): v for k, v in summary.items()},
}
ns = sorted(summary)
print()
print("| workers | runs | tokens/s (median) | server cores | tokens per server CPU-s | "
      "other cores (wrk + neighbours) | p50 ms | p99 ms | errors |")
print("|---|---|---|---|---|---|---|---|---|")
for n in ns:
    s = summary[n]
    print(f"| {n} | {s['runs']} | {s['tokens_per_s']:,.0f} | {s['server_cores']:.2f} | "
          f"{s['tokens_per_server_cpu_s']:,.0f} | {s['other_cores']:.2f} | {s['p50_ms']} | "
          f"{s['p99_ms']} | {s['errors']} |")
if len(ns) >= 2:
    one, top = summary[ns[0]], summary[ns[-1]]
    doc["ratios"] = {
        "throughput": round(top["tokens_per_s"] / one["tokens_per_s"], 2),
        "tokens_per_server_cpu_s": round(
            top["tokens_per_server_cpu_s"] / one["tokens_per_server_cpu_s"], 3),
    }
    print()
    print(f"{ns[-1]} workers vs {ns[0]}: throughput {doc['ratios']['throughput']}x "
          f"(target >= 1.5x), tokens per server CPU-s {doc['ratios']['tokens_per_server_cpu_s']}x "
          f"(target within 10 %, >= 0.90x)")
open(out, "w").write(json.dumps(doc, indent=2) + "\n")
EOF
echo
echo "results: $OUT_JSON"
