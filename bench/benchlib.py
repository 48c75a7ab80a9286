"""Helpers for bench/token_bench.sh: RSA ceiling, wrk parsing, token check, summary, py-spy.

Run with the project's venv Python (it needs ``cryptography``). Every subcommand
prints one JSON document (or a table for ``summary``/``pyspy``) on stdout.

    python bench/benchlib.py rsa-limit SECONDS [APPEND_JSONL]
    python bench/benchlib.py parse-wrk WRK_OUTPUT_FILE
    python bench/benchlib.py check-token RESPONSE_FILE [OUT_JSON]
    python bench/benchlib.py record-run CASE ROUND CONNS CPU0 CPU1 BUSY0 BUSY1 T0 T1 HZ RSS \
        WRK_OUTPUT TOKEN_JSON RUNS_JSONL
    python bench/benchlib.py summary RESULTS_JSON          (prints the table, updates the JSON)
    python bench/benchlib.py pyspy RAW_PROFILE [REPO_ROOT] (prints the breakdown as JSON + table)
"""

from __future__ import annotations

import base64
import collections
import json
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any


# --------------------------------------------------------------------------- RSA ceiling
def rsa_limit(seconds: float) -> dict[str, Any]:
    """RS256 signatures per second on this core with the library Kindling uses."""
    import cryptography
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pad, alg = padding.PKCS1v15(), hashes.SHA256()
    message = b"x" * 1000  # header.payload of a typical token; SHA-256 of it is ~1 us
    for _ in range(50):  # warm-up
        key.sign(message, pad, alg)
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(20):
            key.sign(message, pad, alg)
        n += 20
        now = time.perf_counter()
        if now >= deadline:
            break
    elapsed = now - start
    return {
        "signs_per_s": round(n / elapsed, 1),
        "us_per_sign": round(1e6 * elapsed / n, 1),
        "seconds": round(elapsed, 2),
        "library": f"cryptography {cryptography.__version__}",
    }


# --------------------------------------------------------------------------- wrk output
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(f"cannot parse latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        out[f"p{pct}_ms"] = round(_ms(m.group(1)), 3) if m else None
    m = re.search(r"^\s*p99\.9:\s+([\d.]+)ms", text, re.M)
    out["p99_9_ms"] = float(m.group(1)) if m else None
    m = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", text, re.M)
    out["max_ms"] = round(_ms(m.group(1)), 3) if m else None
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    out["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    return out


# --------------------------------------------------------------------------- token sanity
def _b64json(part: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return data


def check_token(body: str) -> dict[str, Any]:
    resp = json.loads(body)
    token = resp["access_token"]
    header_b64, payload_b64, _sig = token.split(".")
    header, payload = _b64json(header_b64), _b64json(payload_b64)
    scope = payload.get("scope", "")
    return {
        "header": header,
        "claims": sorted(payload),
        "scopes": len(scope.split()) if scope else 0,
        "token_bytes": len(token),
        "response_bytes": len(body.encode()),
    }


# --------------------------------------------------------------------------- summary
#: A run during which other processes used more than this much of CPU 0 is noisy.
MAX_FOREIGN_CPU0 = 0.10


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def _range(values: list[float]) -> tuple[float, float] | None:
    values = [v for v in values if v is not None]
    return (min(values), max(values)) if values else None


def summarize(doc: dict[str, Any]) -> str:
    runs = doc["runs"]
    rsa = [r["signs_per_s"] for r in doc["rsa_limit"]]
    rsa_med = statistics.median(rsa) if rsa else None
    cases = list(dict.fromkeys(r["case"] for r in runs))
    conns = sorted({r["connections"] for r in runs})
    summary: dict[str, Any] = {"rsa_limit_signs_per_s": rsa_med, "rsa_limit_range": _range(rsa)}
    lines = [
        f"RS256 sign ceiling, one core, other core idle ({doc['rsa_limit'][0]['library']}): "
        f"median {rsa_med:,.0f}/s (runs: {', '.join(f'{v:,.0f}' for v in rsa)})",
        "",
        "| server | conns | runs | tokens/s median (min–max) | p50 ms | p99 ms | p99.9 ms | max ms "
        "| CPU cores | tokens per CPU-s | vs peer | vs RS256 ceiling | vs ceiling probed per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    peer_med: dict[int, float | None] = {}
    for c in conns:
        peer_runs = [r for r in runs if r["case"] == "peer" and r["connections"] == c]
        clean = [r for r in peer_runs if r.get("cpu0_other_cores", 0) <= MAX_FOREIGN_CPU0]
        peer_med[c] = _median([r["rps"] for r in clean or peer_runs])
    for c in conns:
        for case in cases:
            every = [r for r in runs if r["case"] == case and r["connections"] == c]
            if not every:
                continue
            # Runs during which something else used CPU 0 measure the neighbours, not the
            # server: leave them out when clean runs of the same kind exist.
            sel = [r for r in every if r.get("cpu0_other_cores", 0) <= MAX_FOREIGN_CPU0] or every
            rps = [r["rps"] for r in sel]
            med = _median(rps)
            lo, hi = _range(rps) or (0, 0)
            cpu = _median([r["cpu_cores"] for r in sel])
            per_cpu = _median([r["rps"] / r["cpu_cores"] for r in sel if r["cpu_cores"]])
            pm = peer_med.get(c)
            vs_peer = f"{med / pm:.2f}×" if pm and med and case != "peer" else "—"
            vs_rsa = f"{100 * med / rsa_med:.0f} %" if rsa_med and med else "—"
            p50, p99 = _median([r["p50_ms"] for r in sel]), _median([r["p99_ms"] for r in sel])
            p999 = _median([r.get("p99_9_ms") for r in sel])
            mx = max((r.get("max_ms") or 0) for r in sel)
            probe = _median([r.get("ratio_vs_rsa_probe") for r in sel])
            summary[f"{case}@{c}"] = {
                "runs_used": len(sel),
                "runs_total": len(every),
                "rps_median": med,
                "rps_range": [lo, hi],
                "p50_ms_median": p50,
                "p99_ms_median": p99,
                "p99_ms_max": max(r["p99_ms"] for r in sel),
                "p99_9_ms_median": p999,
                "max_ms": mx,
                "ratio_vs_rsa_probe_median": probe,
                "cpu_cores_median": cpu,
                "tokens_per_cpu_second": per_cpu,
                "ratio_vs_peer": round(med / pm, 3) if pm and med and case != "peer" else None,
                "ratio_vs_rsa_limit": round(med / rsa_med, 3) if rsa_med and med else None,
                "non_2xx": sum(r["non_2xx"] for r in sel),
                "socket_errors": sum(r["socket_errors"] for r in sel),
            }
            p999_s = f"{p999:.1f}" if p999 is not None else "—"
            probe_s = f"{100 * probe:.0f} %" if probe is not None else "—"
            lines.append(
                f"| {case} | {c} | {len(sel)}/{len(every)} | {med:,.0f} ({lo:,.0f}–{hi:,.0f}) | "
                f"{p50:.1f} | {p99:.1f} | "
                f"{p999_s} | {mx:.0f} | {cpu:.2f} | {per_cpu:,.0f} | {vs_peer} | {vs_rsa} | "
                f"{probe_s} |"
            )

    def is_noisy(r: dict[str, Any]) -> bool:
        return bool(r.get("cpu0_other_cores", 0) > MAX_FOREIGN_CPU0)

    def has_clean_twin(r: dict[str, Any]) -> bool:
        return any(
            not is_noisy(o) and o["case"] == r["case"] and o["connections"] == r["connections"]
            for o in runs
        )

    def label(r: dict[str, Any]) -> str:
        return f"{r['case']}@{r['connections']} round {r['round']} ({r['cpu0_other_cores']:.2f})"

    noisy = [r for r in runs if is_noisy(r)]
    dropped = [r for r in noisy if has_clean_twin(r)]
    kept = [r for r in noisy if not has_clean_twin(r)]
    if dropped:
        lines.append("")
        lines.append(
            f"left out: {len(dropped)} runs with other work on CPU 0 > {MAX_FOREIGN_CPU0} cores: "
            + ", ".join(label(r) for r in dropped)
        )
    if kept:
        lines.append("")
        lines.append(
            f"NOISY, kept for want of clean runs ({len(kept)}): "
            + ", ".join(label(r) for r in kept)
        )
    bad = [r for r in runs if r["non_2xx"] or r["socket_errors"]]
    if bad:
        lines.append("")
        lines.append(
            "WARNING: non-2xx responses or socket errors in: "
            + ", ".join(f"{r['case']}@{r['connections']} round {r['round']}" for r in bad)
        )
    doc["summary"] = summary
    return "\n".join(lines)


# --------------------------------------------------------------------------- py-spy
_CATEGORIES = [
    "RSA signing (key.sign)",
    "JSON encode + base64url (token, response)",
    "SQLite lookup (queries, row → objects)",
    "client secret HMAC",
    "uuid4 (jti)",
    "form parsing (requests.py, unquote)",
    "claims / grant validation (our code)",
    "token endpoint glue (web/token.py, server.py)",
    "other Kindling code",
    "uvicorn / httptools protocol",
    "asyncio / uvloop event loop",
    "other",
]


def _source_line(repo: Path, path: str, line: int, cache: dict[str, list[str]]) -> str:
    if path not in cache:
        f = repo / "src" / path
        try:
            cache[path] = f.read_text().splitlines()
        except OSError:
            cache[path] = []
    lines = cache[path]
    return lines[line - 1] if 0 < line <= len(lines) else ""


_FRAME = re.compile(r"^(?P<func>.*) \((?P<path>[^:()]*):(?P<line>\d+)\)$")


def classify(frames: list[str], repo: Path, cache: dict[str, list[str]]) -> str:
    """Attribute a stack to the innermost frame that says what the time is for."""
    for raw in reversed(frames):
        m = _FRAME.match(raw)
        if not m:
            continue
        func, path, line = m.group("func"), m.group("path"), int(m.group("line"))
        if path.startswith("kindling/"):
            src = _source_line(repo, path, line, cache)
            if path == "kindling/crypto/jws.py" and "_key.sign(" in src:
                return "RSA signing (key.sign)"
            if path == "kindling/crypto/jws.py" or (
                path == "kindling/oauth/server.py" and "_encode" in src
            ):
                return "JSON encode + base64url (token, response)"
            if path.startswith(("kindling/platform/engine.py", "kindling/resources/")):
                return "SQLite lookup (queries, row → objects)"
            if path == "kindling/crypto/client_secrets.py":
                return "client secret HMAC"
            if path == "kindling/oauth/requests.py":
                return "form parsing (requests.py, unquote)"
            if path in ("kindling/oauth/client_credentials.py", "kindling/oauth/client_auth.py"):
                if "uuid" in src:
                    return "uuid4 (jti)"
                return "claims / grant validation (our code)"
            if path in (
                "kindling/web/token.py",
                "kindling/oauth/server.py",
                "kindling/web/app.py",
                "kindling/web/pipeline.py",
            ):
                return "token endpoint glue (web/token.py, server.py, pipeline.py)"
            return "other Kindling code"
        if path == "uuid.py":
            return "uuid4 (jti)"
        if path in ("hmac.py", "hashlib.py"):
            return "client secret HMAC"
        if path == "base64.py":
            return "JSON encode + base64url (token, response)"
        if path.startswith("urllib/"):
            return "form parsing (requests.py, unquote)"
        if path.startswith(("sqlite3/", "contextlib.py")) and any(
            "kindling/storage" in f for f in frames
        ):
            return "SQLite lookup (queries, row → objects)"
        if path == "<string>" and "__init__" in func:
            # dataclass __init__ generated code: attribute to the caller
            continue
        if path.startswith("uvicorn/") or "httptools" in path:
            return "uvicorn / httptools protocol"
        if path.startswith(("asyncio/", "uvloop")):
            return "asyncio / uvloop event loop"
    return "other"


def pyspy_summary(raw: Path, repo: Path) -> dict[str, Any]:
    counts: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    cache: dict[str, list[str]] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        count = int(n)
        total += count
        counts[classify(frames, repo, cache)] += count
        leaf[frames[-1]] += count
    shares = {c: round(100 * counts[c] / total, 1) for c in _CATEGORIES if counts[c]}
    top = [{"frame": f, "pct": round(100 * c / total, 1)} for f, c in leaf.most_common(15)]
    return {"samples": total, "shares_pct": shares, "top_leaf_frames": top}


def pyspy_table(summary: dict[str, Any]) -> str:
    lines = [f"py-spy samples: {summary['samples']} (on-CPU only)", ""]
    lines += ["| where | share |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} % |" for k, v in summary["shares_pct"].items()]
    lines += ["", "top leaf frames (self time):"]
    lines += [f"  {t['pct']:5.1f} %  {t['frame']}" for t in summary["top_leaf_frames"]]
    return "\n".join(lines)


def record_run(argv: list[str]) -> str:
    """Turn one measured wrk run plus /proc readings into a JSON line; return a report line."""
    (name, rnd, conns, c0, c1, b0, b1, t0, t1, hz, rss, wrk_out, tok, jsonl, probe) = argv
    hz_f, wall = float(hz), float(t1) - float(t0)
    cpu = (float(c1) - float(c0)) / hz_f / wall
    cpu0 = (float(b1) - float(b0)) / hz_f / wall
    run: dict[str, Any] = {"case": name, "round": int(rnd), "connections": int(conns)}
    run.update(parse_wrk(Path(wrk_out).read_text()))
    run.update(
        {
            "cpu_cores": round(cpu, 3),
            "cpu0_other_cores": round(max(cpu0 - cpu, 0.0), 3),
            "rss_kib": int(rss),
            "wall_s": round(wall, 2),
            "token_bytes": json.loads(Path(tok).read_text())["token_bytes"],
            "rsa_probe_signs_per_s": json.loads(probe)["signs_per_s"],
        }
    )
    if run["rps"]:
        run["ratio_vs_rsa_probe"] = round(run["rps"] / run["rsa_probe_signs_per_s"], 3)
    with open(jsonl, "a") as f:
        f.write(json.dumps(run) + "\n")
    warn = ""
    if run["non_2xx"] or run["socket_errors"]:
        warn += f"  !! non-2xx {run['non_2xx']}, socket errors {run['socket_errors']}"
    if run["cpu0_other_cores"] > 0.05:
        warn += f"  !! CPU 0 also ran other work: {run['cpu0_other_cores']:.2f} cores"
    if run["rps"] is None:
        return f"  {name:<17} c={conns:<3} wrk output unreadable: {wrk_out}"
    return (
        f"  {name:<17} c={conns:<3} {run['rps']:>8,.0f} tokens/s  p50 {run['p50_ms']:6.2f} ms  "
        f"p99 {run['p99_ms']:7.2f} ms  max {run['max_ms']:7.1f} ms  "
        f"CPU {run['cpu_cores']:.2f}  RSS {run['rss_kib'] // 1024} MiB  "
        f"= {100 * run['ratio_vs_rsa_probe']:.0f} % of RS256 ceiling now "
        f"({run['rsa_probe_signs_per_s']:,.0f}/s){warn}"
    )


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "rsa-limit":
        r = rsa_limit(float(argv[2]))
        if len(argv) > 3:
            with open(argv[3], "a") as f:
                f.write(json.dumps(r) + "\n")
            print(f"{r['signs_per_s']:,.0f} signs/s ({r['us_per_sign']} us/sign, {r['library']})")
        else:
            print(json.dumps(r))
    elif cmd == "parse-wrk":
        print(json.dumps(parse_wrk(Path(argv[2]).read_text())))
    elif cmd == "check-token":
        t = check_token(Path(argv[2]).read_text())
        if len(argv) > 3:
            Path(argv[3]).write_text(json.dumps(t))
            print(
                f"{t['token_bytes']} bytes, {t['scopes']} scopes, "
                f"response {t['response_bytes']} bytes, header {json.dumps(t['header'])}"
            )
        else:
            print(json.dumps(t))
    elif cmd == "record-run":
        print(record_run(argv[2:]))
    elif cmd == "summary":
        path = Path(argv[2])
        doc = json.loads(path.read_text())
        print(summarize(doc))
        path.write_text(json.dumps(doc, indent=2) + "\n")
    elif cmd == "pyspy":
        repo = Path(argv[3]) if len(argv) > 3 else Path(__file__).resolve().parent.parent
        summary = pyspy_summary(Path(argv[2]), repo)
        print(json.dumps(summary))
        print(pyspy_table(summary), file=sys.stderr)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
