#!/usr/bin/env bash
# Benchmark (not a test): Kindling's POST /oauth2/token against a peer (node-oidc-provider),
# alternated in one run, on one core each, with the RS256 signing ceiling measured alongside.
#
#   bench/token_bench.sh [ROUNDS=2] [SECONDS=10]
#
# Each round: RSA-2048 sign ceiling (3 s, CPU 0), then for each case (default: kindling,
# kindling-2scopes, peer) a fresh server pinned to CPU 0, wrk pinned to CPU 1,
# 3 s warm-up + SECONDS measured at 16 connections, then the same at 64 connections.
# Server CPU use comes from /proc/<pid>/stat; other load on CPU 0 from /proc/stat.
# Results: a table on stdout and bench/results/<timestamp>.json (gitignored).
#
# Environment:
#   CASES         cases to alternate (default "kindling kindling-2scopes peer")
#   CONNS         connection counts (default "16 64")
#   WARMUP        warm-up seconds (default 3)
#   NICE          priority of the server, wrk and probes (default -10 as root, else 0)
#   PROBE_SECS    RS256 sign probe on CPU 0 right before each measured run (default 1 s), so
#                 each run is also compared with the ceiling of that moment (the host drifts)
#   PEER_SHARED   the peer's files (default <repo>/../shared/bench/peer-oidc-provider)
#   PEER_DIR      where oidc-provider is npm-installed (default ${TMPDIR:-/tmp}/peer-oidc-provider)
#   KINDLING_PORT / PEER_PORT   (default 18080 / 13000)
#   VENV          Python venv with kindling installed (default <repo>/.venv)
#   PROFILE=1     afterwards, profile Kindling under 16 connections with py-spy (10 s, 200 Hz)
#   B_SRC, B_ENV  A/B a change: case "kindling-b" (and "kindling-b-2scopes") runs the server with
#                 B_SRC (a copy of src/ with the change) first on PYTHONPATH and the extra
#                 variables in B_ENV ("NAME=value ..."); add it to CASES, e.g.
#                 CASES="kindling kindling-b" B_SRC=/tmp/variant/src bench/token_bench.sh 3 10
#   A_SRC         likewise for the plain "kindling" cases (e.g. an unpatched copy of the same
#                 commit, so that A and B differ only by the change)
#   PROFILE_CASE  which Kindling case PROFILE=1 profiles (default kindling)
#   Other HTTP servers (issue 13): cases "kindling-granian", "kindling-granian-2scopes",
#                 "kindling-hypercorn", "kindling-hypercorn-2scopes" run the same set-up and
#                 application under granian / hypercorn instead of uvicorn (bench/serve_under.py;
#                 pip install them into the venv first); "kindling-healthz",
#                 "kindling-granian-healthz", "kindling-hypercorn-healthz" load GET /healthz
#                 instead of the token endpoint (the HTTP floor: no signature, no storage; its
#                 "tokens/s" are requests/s). Server CPU counts the server's child processes too.
#   PG_ADMIN_URL  PostgreSQL for the "kindling-pg" and "kindling-pg-2scopes" cases (default
#                 postgresql://postgres@127.0.0.1:5432/test): the same server on a fresh schema
#                 there (dropped afterwards) instead of SQLite, to compare both token paths in
#                 one run, e.g. CASES="kindling kindling-pg" bench/token_bench.sh 2 10.
#                 PostgreSQL's own processes are not pinned; their CPU is not in the server's.
# Traffic goes to 127.0.0.1 only; every load run is bounded by wrk's -d.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${1:-2}"
SECS="${2:-10}"
CASES="${CASES:-kindling kindling-2scopes peer}"
CONNS="${CONNS:-16 64}"
WARMUP="${WARMUP:-3}"
PROBE_SECS="${PROBE_SECS:-1}"
# Neighbours (other jobs on this 2-CPU machine) get less of the measured cores at a higher
# priority; the server, wrk and the RSA probes all run at the same one.
if [ "$(id -u)" = 0 ]; then NICE="${NICE:--10}"; else NICE="${NICE:-0}"; fi
PIN0=(nice -n "$NICE" taskset -c 0)
PIN1=(nice -n "$NICE" taskset -c 1)
PEER_SHARED="${PEER_SHARED:-$REPO/../shared/bench/peer-oidc-provider}"
PEER_DIR="${PEER_DIR:-${TMPDIR:-/tmp}/peer-oidc-provider}"
KINDLING_PORT="${KINDLING_PORT:-18080}"
PEER_PORT="${PEER_PORT:-13000}"
VENV="${VENV:-$REPO/.venv}"
PROFILE="${PROFILE:-0}"
PY="$VENV/bin/python"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/test}"
PG_SCHEMA=""
KINDLING="$VENV/bin/kindling"
LIB="$REPO/bench/benchlib.py"
HZ="$(getconf CLK_TCK)"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
RESULTS_DIR="$REPO/bench/results"
OUT_JSON="$RESULTS_DIR/$STAMP.json"

die() { echo "token_bench: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "need wrk (apt-get install -y wrk)"
command -v taskset >/dev/null || die "need taskset (util-linux)"
[ -x "$KINDLING" ] || die "no kindling in $VENV (python -m venv .venv && pip install -e .)"
[ "$(nproc)" -ge 2 ] || die "need 2 CPUs (server on CPU 0, wrk on CPU 1)"
case " $CASES " in *" peer "*)
  command -v node >/dev/null || die "need node >= 20.19"
  command -v npm >/dev/null || die "need npm"
  [ -f "$PEER_SHARED/server.mjs" ] || die "peer files not found in $PEER_SHARED (set PEER_SHARED)"
  PEER_SHARED="$(cd "$PEER_SHARED" && pwd)";;
esac

WORK="$(mktemp -d "${TMPDIR:-/tmp}/token-bench.XXXXXX")"
SRV=""
tree_pids() {  # pid: it and all its descendants (granian serves from a child process)
  echo "$1"
  local c
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
stop_server() {
  if [ -n "$SRV" ] && kill -0 "$SRV" 2>/dev/null; then
    local tree
    tree="$(tree_pids "$SRV")"
    kill "$SRV" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SRV" 2>/dev/null || break; sleep 0.1; done
    # shellcheck disable=SC2086  # one pid per word
    kill -9 $tree 2>/dev/null || true
    wait "$SRV" 2>/dev/null || true
  fi
  SRV=""
}
pg_schema() {  # create|drop name
  "$PY" -c 'import sys, psycopg
verb, url, name = sys.argv[1:]
with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
    conn.execute(f"CREATE SCHEMA {name}" if verb == "create" else f"DROP SCHEMA IF EXISTS {name} CASCADE")
' "$1" "$PG_ADMIN_URL" "$2"
}
drop_schema() { [ -z "$PG_SCHEMA" ] || pg_schema drop "$PG_SCHEMA" || true; PG_SCHEMA=""; }
cleanup() { stop_server; drop_schema; rm -rf "$WORK"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_http() {  # url
  for _ in $(seq 1 150); do
    curl -sf -o /dev/null "$1" && return 0
    kill -0 "$SRV" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
proc_cpu() {  # utime+stime of all threads of the server process and its descendants
  local p sum=0
  for p in $(tree_pids "$1"); do
    sum=$((sum + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$sum"
}
cpu0_busy() { awk '$1=="cpu0"{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
rss_kib() {  # summed over the server's processes
  local p
  for p in $(tree_pids "$1"); do awk '/VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null; done \
    | awk '{s += $1} END {print s + 0}'
}

# ----------------------------------------------------------------------------- peer install
if [[ " $CASES " == *" peer "* ]]; then
  mkdir -p "$PEER_DIR"
  cp "$PEER_SHARED/package.json" "$PEER_SHARED/server.mjs" "$PEER_DIR/"
  if [ ! -d "$PEER_DIR/node_modules/oidc-provider" ]; then
    echo "installing oidc-provider into $PEER_DIR …"
    (cd "$PEER_DIR" && timeout 600 npm install --no-audit --no-fund --silent)
  fi
fi

# ----------------------------------------------------------------------------- servers
# start_<case> sets SRV (server pid, pinned to CPU 0), URL, LUA and writes $WORK/token.json
start_kindling() {  # scope (may be empty), variant (a or b), engine (sqlite or pg), server, what
  # server: uvicorn (kindling serve), granian or hypercorn (bench/serve_under.py: kindling
  # serve's set-up, then that server on the same app); what: token, or healthz (GET /healthz)
  local scope="$1" variant="${2:-a}" engine="${3:-sqlite}" server="${4:-uvicorn}" what="${5:-token}"
  local data log cid secret audience body sep
  local -a cmd=("$KINDLING")
  [ "$server" = uvicorn ] || cmd=("$PY" "$REPO/bench/serve_under.py" "$server")
  # The benchmark measures issuance, not the per-client rate limit (50/s by default).
  local -a envs=("KINDLING_RATE_LIMITS=off")
  if [ "$engine" = pg ]; then
    PG_SCHEMA="kb_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
    pg_schema create "$PG_SCHEMA" || die "cannot create a schema at $PG_ADMIN_URL"
    sep="?"; [[ "$PG_ADMIN_URL" != *"?"* ]] || sep="&"
    envs+=("KINDLING_DATABASE_URL=$PG_ADMIN_URL${sep}options=-csearch_path%3D$PG_SCHEMA")
  fi
  port_free "$KINDLING_PORT" || die "port $KINDLING_PORT is in use"
  data="$(mktemp -d "$WORK/kindling-data.XXXXXX")"
  log="$data/server.log"
  if [ "$variant" = a ] && [ -n "${A_SRC:-}" ]; then
    envs+=("PYTHONPATH=$A_SRC${PYTHONPATH:+:$PYTHONPATH}")
  fi
  if [ "$variant" = b ]; then
    [ -n "${B_SRC:-}" ] || [ -n "${B_ENV:-}" ] || die "case kindling-b needs B_SRC and/or B_ENV"
    [ -z "${B_SRC:-}" ] || envs+=("PYTHONPATH=$B_SRC${PYTHONPATH:+:$PYTHONPATH}")
    read -r -a extra <<<"${B_ENV:-}"
    envs+=("${extra[@]}")
  fi
  env ${envs[@]+"${envs[@]}"} "${PIN0[@]}" "${cmd[@]}" serve --no-access-log --workers 1 \
    --port "$KINDLING_PORT" --data-dir "$data" >"$log" 2>&1 &
  SRV=$!
  URL="http://127.0.0.1:$KINDLING_PORT/oauth2/token"
  wait_http "http://127.0.0.1:$KINDLING_PORT/healthz" || { cat "$log" >&2; die "kindling did not start"; }
  cid="$(awk '/client id:/{print $3; exit}' "$log")"
  secret="$(awk '/client secret:/{print $3; exit}' "$log")"
  audience="$(awk '/Management API:/{print $3; exit}' "$log")"
  [ -n "$cid" ] && [ -n "$secret" ] && [ -n "$audience" ] || die "no credentials in the banner ($log)"
  body="grant_type=client_credentials&client_id=$cid&client_secret=$secret&audience=$(
    "$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$audience")"
  [ -n "$scope" ] && body="$body&scope=${scope// /+}"
  LUA="$WORK/kindling.lua"
  cat >"$LUA" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "$body"
done = function(summary, latency, requests)
  io.write(string.format("p99.9: %.3fms\\n", latency:percentile(99.9) / 1000))
end
EOF
  curl -sf -X POST "$URL" -H 'content-type: application/x-www-form-urlencoded' --data-raw "$body" \
    >"$WORK/token.json" || die "kindling refused the token request"
  if [ "$what" = healthz ]; then  # the HTTP floor: the same server, no signature, no storage
    URL="http://127.0.0.1:$KINDLING_PORT/healthz"
    LUA="$WORK/healthz.lua"
    cat >"$LUA" <<EOF
done = function(summary, latency, requests)
  io.write(string.format("p99.9: %.3fms\\n", latency:percentile(99.9) / 1000))
end
EOF
  fi
}

start_peer() {
  port_free "$PEER_PORT" || die "port $PEER_PORT is in use"
  (cd "$PEER_DIR" && PORT="$PEER_PORT" NODE_ENV=production exec "${PIN0[@]}" node server.mjs \
    >"$WORK/peer.log" 2>&1) &
  SRV=$!
  URL="http://127.0.0.1:$PEER_PORT/token"
  LUA="$PEER_SHARED/token.lua"
  wait_http "http://127.0.0.1:$PEER_PORT/.well-known/openid-configuration" \
    || { cat "$WORK/peer.log" >&2; die "peer did not start"; }
  curl -sf -X POST "$URL" -H 'content-type: application/x-www-form-urlencoded' \
    -d 'grant_type=client_credentials&client_id=client-0042&client_secret=secret-0042&resource=https%3A%2F%2Fapi.example.com&scope=read%3Ausers+read%3Aorgs' \
    >"$WORK/token.json" || die "the peer refused the token request"
}

start_case() {
  case "$1" in
    kindling) start_kindling "" ;;
    kindling-2scopes) start_kindling "read:users read:applications" ;;
    kindling-b) start_kindling "" b ;;
    kindling-b-2scopes) start_kindling "read:users read:applications" b ;;
    kindling-pg) start_kindling "" a pg ;;
    kindling-pg-2scopes) start_kindling "read:users read:applications" a pg ;;
    kindling-granian) start_kindling "" a sqlite granian ;;
    kindling-granian-2scopes) start_kindling "read:users read:applications" a sqlite granian ;;
    kindling-hypercorn) start_kindling "" a sqlite hypercorn ;;
    kindling-hypercorn-2scopes) start_kindling "read:users read:applications" a sqlite hypercorn ;;
    kindling-healthz) start_kindling "" a sqlite uvicorn healthz ;;
    kindling-granian-healthz) start_kindling "" a sqlite granian healthz ;;
    kindling-hypercorn-healthz) start_kindling "" a sqlite hypercorn healthz ;;
    peer) start_peer ;;
    *) die "unknown case $1" ;;
  esac
  # every thread of the server must be on CPU 0 only
  local bad
  bad="$(for p in $(tree_pids "$SRV"); do
    for t in /proc/"$p"/task/*; do taskset -pc "${t##*/}" 2>/dev/null; done
  done | grep -cv 'list: 0$' || true)"
  [ "$bad" = "0" ] || die "server threads not pinned to CPU 0"
}

# ----------------------------------------------------------------------------- one measurement
RUNS_JSONL="$WORK/runs.jsonl"; : >"$RUNS_JSONL"
RSA_JSONL="$WORK/rsa.jsonl"; : >"$RSA_JSONL"

measure() {  # case round conns
  local name="$1" round="$2" conns="$3" c0 c1 b0 b1 t0 t1 out probe
  "${PIN1[@]}" wrk -t1 -c"$conns" -d"${WARMUP}s" -s "$LUA" "$URL" >/dev/null
  out="$WORK/wrk-$name-$round-$conns.txt"
  probe="$("${PIN0[@]}" "$PY" "$LIB" rsa-limit "$PROBE_SECS")"   # the ceiling right now
  c0=$(proc_cpu "$SRV"); b0=$(cpu0_busy); t0=$(date +%s.%N)
  "${PIN1[@]}" wrk -t1 -c"$conns" -d"${SECS}s" --latency -s "$LUA" "$URL" >"$out"
  c1=$(proc_cpu "$SRV"); b1=$(cpu0_busy); t1=$(date +%s.%N)
  "$PY" "$LIB" record-run "$name" "$round" "$conns" "$c0" "$c1" "$b0" "$b1" "$t0" "$t1" "$HZ" \
    "$(rss_kib "$SRV")" "$out" "$WORK/tokinfo.json" "$RUNS_JSONL" "$probe"
}

# ----------------------------------------------------------------------------- the run
echo "token_bench $STAMP: rounds=$ROUNDS seconds=$SECS warmup=$WARMUP conns=[$CONNS] cases=[$CASES]"
echo "server pinned to CPU 0, wrk -t1 pinned to CPU 1; results → $OUT_JSON"
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round/$ROUNDS"
  echo "  RS256 sign ceiling on CPU 0: $("${PIN0[@]}" "$PY" "$LIB" rsa-limit 3 "$RSA_JSONL")"
  for name in $CASES; do
    start_case "$name"
    info="$("$PY" "$LIB" check-token "$WORK/token.json" "$WORK/tokinfo.json")"
    if [ "$round" = 1 ]; then echo "  $name token: $info"; fi
    for c in $CONNS; do measure "$name" "$round" "$c"; done
    stop_server
    drop_schema
  done
done

# ----------------------------------------------------------------------------- profile (optional)
PROFILE_JSON=null
if [ "$PROFILE" = 1 ]; then
  PYSPY="$VENV/bin/py-spy"
  [ -x "$PYSPY" ] || die "PROFILE=1 needs py-spy in the venv (pip install py-spy)"
  mkdir -p "$RESULTS_DIR"
  echo "profiling ${PROFILE_CASE:-kindling} under 16 connections (py-spy, 200 Hz, 10 s) …"
  start_case "${PROFILE_CASE:-kindling}"
  "${PIN1[@]}" wrk -t1 -c16 -d"${WARMUP}s" -s "$LUA" "$URL" >/dev/null
  "${PIN1[@]}" wrk -t1 -c16 -d14s -s "$LUA" "$URL" >"$WORK/wrk-profile.txt" &
  WRK_PID=$!
  sleep 2
  "${PIN1[@]}" "$PYSPY" record -r 200 -d 10 --nonblocking --pid "$SRV" -f raw \
    -o "$RESULTS_DIR/$STAMP-pyspy.txt" >/dev/null 2>&1
  wait "$WRK_PID"
  stop_server
  SRC_ROOT="$REPO"; [ -z "${A_SRC:-}" ] || SRC_ROOT="$(dirname "$A_SRC")"   # to read source lines
  PROFILE_JSON="$("$PY" "$LIB" pyspy "$RESULTS_DIR/$STAMP-pyspy.txt" "$SRC_ROOT")"
fi

# ----------------------------------------------------------------------------- results
mkdir -p "$RESULTS_DIR"
NICE_USED="$NICE" "$PY" - "$OUT_JSON" "$RUNS_JSONL" "$RSA_JSONL" "$ROUNDS" "$SECS" "$WARMUP" "$CASES" "$CONNS" \
  "$PROFILE_JSON" "$REPO" <<'EOF'
import json, os, platform, subprocess, sys
out, runs, rsa, rounds, secs, warmup, cases, conns, profile, repo = sys.argv[1:]
def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except Exception:
        return None
doc = {
    "timestamp_utc": out.rsplit("/", 1)[-1].removesuffix(".json"),
    "command": " ".join(["bench/token_bench.sh", rounds, secs]),
    "params": {"rounds": int(rounds), "seconds": int(secs), "warmup_s": int(warmup),
               "cases": cases.split(), "connections": [int(c) for c in conns.split()],
               "server_cpu": 0, "wrk_cpu": 1, "wrk_threads": 1,
               "nice": int(os.environ.get("NICE_USED", "0"))},
    "machine": {"kernel": platform.release(), "cpus": sh("nproc"),
                "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                   if l.startswith("model name")), None)},
    "versions": {"python": platform.python_version(), "node": sh("node", "--version"),
                 "wrk": (sh("wrk", "-v") or "").split(" [")[0] or None,
                 # the repository's HEAD when the run ended (with A_SRC, the code run is A_SRC)
                 "repo_head": sh("git", "-C", repo, "rev-parse", "--short", "HEAD"),
                 "repo_src_dirty": bool(sh("git", "-C", repo, "status", "--porcelain", "src")),
                 "kindling_src": os.environ.get("A_SRC") or f"{repo}/src (working tree)",
                 "kindling_b_src": os.environ.get("B_SRC"), "kindling_b_env": os.environ.get("B_ENV")},
    "rsa_limit": [json.loads(l) for l in open(rsa) if l.strip()],
    "runs": [json.loads(l) for l in open(runs) if l.strip()],
    "profile": json.loads(profile),
}
try:
    import cryptography, uvicorn
    doc["versions"].update({"cryptography": cryptography.__version__, "uvicorn": uvicorn.__version__})
except ImportError:
    pass
from importlib.metadata import PackageNotFoundError, version
for dist in ("granian", "hypercorn", "httptools"):
    try:
        doc["versions"][dist] = version(dist)
    except PackageNotFoundError:
        pass
open(out, "w").write(json.dumps(doc, indent=2) + "\n")
EOF
echo
"$PY" "$LIB" summary "$OUT_JSON"
if [ "$PROFILE" = 1 ]; then
  echo
  "$PY" "$LIB" pyspy "$RESULTS_DIR/$STAMP-pyspy.txt" "$SRC_ROOT" 2>&1 >/dev/null
fi
echo
echo "results: $OUT_JSON"
