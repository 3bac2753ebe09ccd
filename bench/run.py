#!/usr/bin/env python3
"""Benchmark driver (issue 8): every figure is a ratio measured side by side in one run.

1. cached GET /menus/{id} req/s ÷ GET /health req/s on the Restaurant Service (wrk)
2. POST /orders on one hot menu req/s ÷ pgbench running the reservation transaction
   (lock + update + ledger insert) at the same concurrency on the same PostgreSQL
3. the load generator's ceiling ÷ wrk's on GET /health (when loadgen is built)
4. p50/p99 of the full order flow at a fixed open-loop rate below saturation (loadgen --rate)
5. resident memory per service idle and at saturation; embedded stack start-up to ready
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")
PG_SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
PGBENCH = next(
    (p for p in [shutil.which("pgbench")] + [f"/usr/lib/postgresql/{v}/bin/pgbench" for v in ("17", "16", "15")] if p and os.path.exists(p)),
    None,
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def wait_ready(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if http("GET", f"{url}/ready", timeout=2)[0] == 200:
                return
        except Exception:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} not ready")


def rss_kib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(procs):
    """CPU time (user + system) so far of each service, of all PostgreSQL and Redis processes."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {name: 0.0 for name in list(procs) + ["postgres", "redis", "wrk/pgbench"]}
    by_pid = {p.pid: n for n, p in procs.items()}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        used = (int(fields[11]) + int(fields[12])) / tick
        if int(pid) in by_pid:
            out[by_pid[int(pid)]] += used
        elif comm.startswith("postgres") or comm.startswith("postmaster"):
            out["postgres"] += used
        elif comm.startswith("redis-server"):
            out["redis"] += used
        elif comm in ("wrk", "pgbench"):
            out["wrk/pgbench"] += used
    return out


def cpu_delta(before, after):
    return {k: round(after.get(k, 0) - before.get(k, 0), 2) for k in after}


def run_sampled(cmd, duration, procs=None, env=None):
    """Runs a load command; with `procs`, also the CPU each process used from 1 s after the
    start to 1 s before the end (sampled while the load runs, so short-lived processes —
    PostgreSQL backends, the load tool — are counted)."""
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})
    cpu = None
    if procs is not None and duration > 2:
        time.sleep(1)
        before = cpu_seconds(procs)
        time.sleep(duration - 2)
        cpu = {k: round(v / (duration - 2) * duration, 2) for k, v in cpu_delta(before, cpu_seconds(procs)).items()}
    out, err = child.communicate()
    return out + err, cpu


def wrk(url, connections, duration, script=None, env=None, procs=None):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", script]
    text, cpu = run_sampled(cmd + [url], duration, procs, env)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    lat = {}
    for p in ("50", "99"):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text)
        if m:
            value, unit = float(m.group(1)), m.group(2)
            lat[f"p{p}_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    statuses = re.search(r"STATUSES (\{.*\})", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        "rps": rps,
        "cpu_seconds": cpu,
        **lat,
        "statuses": json.loads(statuses.group(1)) if statuses else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def loadgen_run(scenario, urls, tmp, duration):
    """Runs a bench scenario with the release loadgen; returns its summary.json."""
    reports = os.path.join(tmp, "reports")
    subprocess.run([os.path.join(BIN, "loadgen"), "run", os.path.join(ROOT, "bench", scenario),
                    "--no-dashboard", "--run-time", f"{duration}s", "--report-dir", reports,
                    "--user-url", urls["user"], "--restaurant-url", urls["restaurant"],
                    "--order-url", urls["order"]], capture_output=True, text=True, check=False)
    name = "bench-" + scenario.removesuffix(".toml")
    run_dir = sorted(os.listdir(os.path.join(reports, name)))[-1]
    with open(os.path.join(reports, name, run_dir, "summary.json")) as f:
        return json.load(f)


def start_services(prefix, tmp):
    ports = {"user": free_port(), "restaurant": free_port(), "order": free_port()}
    urls = {k: f"http://127.0.0.1:{v}" for k, v in ports.items()}
    dbs = {"user": "users", "restaurant": "restaurants", "order": "orders"}
    procs = {}
    for name in ("user", "restaurant", "order"):
        env = {
            **os.environ,
            "PORT": str(ports[name]),
            "HOST": "127.0.0.1",
            "DATABASE_URL": f"{PG_SERVER}/{prefix}{dbs[name]}",
            "REDIS_URL": REDIS,
            "CACHE_PREFIX": f"{prefix}{name}",
            "TESTBED_DEV": "1",
            "RUST_LOG": "warn",
            "USER_SERVICE_URL": urls["user"],
            "RESTAURANT_SERVICE_URL": urls["restaurant"],
            "LOGIN_ATTEMPTS_PER_MINUTE": "100000",
        }
        procs[name] = subprocess.Popen([os.path.join(BIN, f"{name}-service")], env=env, cwd=tmp,
                                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, f"{name}.log"), "w"))
        wait_ready(urls[name])
    return urls, procs


def embedded_startup(tmp):
    """Seconds from launching `testbed up` (embedded, fresh data dir) until all three are ready."""
    ports = [free_port() for _ in range(3)]
    data = os.path.join(tmp, "embedded")
    os.makedirs(data)
    started = time.perf_counter()
    proc = subprocess.Popen([os.path.join(BIN, "testbed"), "up", f"--user-port={ports[0]}",
                             f"--restaurant-port={ports[1]}", f"--order-port={ports[2]}"],
                            cwd=data, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "RUST_LOG": "warn"})
    deadline = time.time() + 30
    while True:
        try:
            if all(http("GET", f"http://127.0.0.1:{p}/ready", timeout=1)[0] == 200 for p in ports):
                break
        except Exception:
            pass
        if time.time() > deadline:
            raise SystemExit("embedded stack not ready")
        time.sleep(0.01)
    took = time.perf_counter() - started
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    return took


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    d, c = args.duration, args.connections
    prefix = f"bench_{uuid.uuid4().hex[:8]}_"
    tmp = tempfile.mkdtemp(prefix="bench-")
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu_model": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?"),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "kernel": platform.release(),
        },
        "settings": {"duration_s": d, "connections": c, "wrk_threads": 2},
    }
    urls, procs = start_services(prefix, tmp)
    try:
        time.sleep(1)
        results["rss_idle_mib"] = {n: round(rss_kib(p.pid) / 1024, 1) for n, p in procs.items()}

        # 1. cached read vs health on the same service.
        http("GET", f"{urls['restaurant']}/menus/1")
        health = wrk(f"{urls['restaurant']}/health", c, d)
        cached = wrk(f"{urls['restaurant']}/menus/1", c, d)
        results["ratio1_cached_menu_vs_health"] = {
            "health": health, "cached_menu": cached, "ratio": round(cached["rps"] / health["rps"], 3), "target": 0.5}

        # 2. POST /orders on one hot menu vs pgbench's reservation transaction.
        name = f"bench_{uuid.uuid4().hex[:8]}"
        http("POST", f"{urls['user']}/signup", {"username": name, "password": "bench-pass-1"})
        token = http("POST", f"{urls['user']}/login", {"username": name, "password": "bench-pass-1"})[1]["access_token"]
        menu = http("POST", f"{urls['restaurant']}/admin/menus", {"name": "Bench Chicken", "price": 20000, "stock": 100000000})[1]["id"]
        orders = wrk(f"{urls['order']}/orders", c, d, script=os.path.join(ROOT, "bench", "order.lua"),
                     env={"BENCH_TOKEN": token, "BENCH_MENU": str(menu)}, procs=procs)
        orders_cpu = orders.pop("cpu_seconds")
        results["rss_saturation_mib"] = {n: round(rss_kib(p.pid, "VmHWM") / 1024, 1) for n, p in procs.items()}
        pg_menu = http("POST", f"{urls['restaurant']}/admin/menus", {"name": "pgbench menu", "price": 1, "stock": 100000000})[1]["id"]
        pg = None
        pg_cpu = None
        if PGBENCH:
            text, pg_cpu = run_sampled([PGBENCH, "-n", "-h", "127.0.0.1", "-U", "postgres", "-c", str(c), "-j", "2",
                                        "-T", str(d), "-D", f"menu={pg_menu}", "-f", os.path.join(ROOT, "bench", "reserve.sql"),
                                        f"{prefix}restaurants"], d, procs,
                                       # the services skip TLS on loopback; so does pgbench
                                       env={"PGSSLMODE": "disable"})
            m = re.search(r"tps = ([\d.]+)", text)
            pg = float(m.group(1)) if m else None
            if pg is None:
                print(text, file=sys.stderr)
        paid = (orders["statuses"] or {}).get("201", 0)
        results["ratio2_orders_vs_pgbench"] = {
            "orders": orders, "orders_paid": paid, "pgbench_tps": pg,
            "cpu_seconds_during_orders": orders_cpu, "cpu_seconds_during_pgbench": pg_cpu,
            "ratio": round(orders["rps"] / pg, 3) if pg else None, "target": 0.7}

        # 3. the load generator's ceiling vs wrk's on the same cheap endpoint and concurrency.
        menus_wrk = wrk(f"{urls['restaurant']}/menus", 16, d)
        ceiling = loadgen_run("loadgen-ceiling.toml", urls, tmp, d)
        results["ratio3_loadgen_vs_wrk"] = {
            "endpoint": "GET /menus (cached)", "connections": 16, "wrk": menus_wrk,
            "loadgen_rps": round(ceiling["requests_per_second"], 1),
            "ratio": round(ceiling["requests_per_second"] / menus_wrk["rps"], 3), "target": 0.5}

        # 4. the full order flow at a fixed open-loop rate below saturation.
        flow = loadgen_run("order-flow-rate.toml", urls, tmp, d)
        post = next(e for e in flow["endpoints"] if e["endpoint"] == "POST /orders")
        results["figure4_order_flow_open_loop"] = {
            "rate_per_s": 100, "mode": flow["mode"], "requests": post["requests"], "errors": post["errors"],
            "p50_ms": post["latency_ms"]["p50"], "p99_ms": post["latency_ms"]["p99"], "passed": flow["passed"]}

        results["embedded_startup_s"] = round(embedded_startup(tmp), 3)
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        for p in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        for db in ("users", "restaurants", "orders"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'DROP DATABASE IF EXISTS "{prefix}{db}" WITH (FORCE)'],
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    out_dir = os.path.join(ROOT, "reports", "bench")
    os.makedirs(out_dir, exist_ok=True)
    stamp = datetime.date.today().isoformat()
    with open(os.path.join(out_dir, f"{stamp}.json"), "w") as f:
        json.dump(results, f, indent=2)
    md = render_markdown(results)
    with open(os.path.join(out_dir, f"{stamp}.md"), "w") as f:
        f.write(md)
    print(md)


def render_markdown(r):
    m = r["machine"]
    r1, r2 = r["ratio1_cached_menu_vs_health"], r["ratio2_orders_vs_pgbench"]
    lines = [
        f"# Benchmarks {r['date']}",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}. "
        f"wrk -t2 -c{r['settings']['connections']} for {r['settings']['duration_s']} s per run; services are release builds, "
        "one process each, on PostgreSQL + Redis on the same machine (load generator, database and services share the cores).",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
        f"| 1. cached `GET /menus/1` ÷ `GET /health` | {r1['cached_menu']['rps']:.0f} ÷ {r1['health']['rps']:.0f} req/s = **{r1['ratio']}** | ≥ 0.5 | {'yes' if r1['ratio'] >= 0.5 else 'no'} |",
    ]
    if r2["ratio"] is not None:
        lines.append(f"| 2. `POST /orders` (hot menu) ÷ pgbench reservation tx | {r2['orders']['rps']:.0f} ÷ {r2['pgbench_tps']:.0f} /s = **{r2['ratio']}** | ≥ 0.7 | {'yes' if r2['ratio'] >= 0.7 else 'no'} |")
    r3, r4 = r["ratio3_loadgen_vs_wrk"], r["figure4_order_flow_open_loop"]
    lines.append(f"| 3. loadgen ceiling ÷ wrk on `GET /menus`, 16 connections | {r3['loadgen_rps']:.0f} ÷ {r3['wrk']['rps']:.0f} req/s = **{r3['ratio']}** | ≥ 0.5 | {'yes' if r3['ratio'] >= 0.5 else 'no'} |")
    lines.append(f"| 4. full order flow at {r4['rate_per_s']}/s open loop ({r4['requests']} orders, {r4['errors']} errors) | p50 {r4['p50_ms']} ms, p99 {r4['p99_ms']} ms | – | – |")
    lines.append(f"| order latency at saturation (wrk, closed loop) | p50 {r2['orders'].get('p50_ms', 0):.1f} ms, p99 {r2['orders'].get('p99_ms', 0):.1f} ms | – | – |")
    if r2.get("cpu_seconds_during_orders"):
        lines.append("")
        lines.append(f"Where the CPU went during figure 2 (CPU seconds over the {r['settings']['duration_s']} s run, sampled while it ran; "
                     f"the machine has {m['cpus']} × {r['settings']['duration_s']} s):")
        lines.append("")
        lines.append("| run | " + " | ".join(r2["cpu_seconds_during_orders"]) + " |")
        lines.append("|---|" + "---|" * len(r2["cpu_seconds_during_orders"]))
        lines.append("| `POST /orders` | " + " | ".join(str(v) for v in r2["cpu_seconds_during_orders"].values()) + " |")
        if r2.get("cpu_seconds_during_pgbench"):
            lines.append("| pgbench | " + " | ".join(str(r2["cpu_seconds_during_pgbench"].get(k, 0)) for k in r2["cpu_seconds_during_orders"]) + " |")
        lines.append("")
        lines.append("| figure | measured | target | met |")
        lines.append("|---|---|---|---|")
    for name in ("user", "restaurant", "order"):
        idle, sat = r["rss_idle_mib"][name], r["rss_saturation_mib"][name]
        lines.append(f"| 5. {name} service RSS idle / peak at saturation | {idle} MiB / {sat} MiB | < 30 / < 100 MiB | {'yes' if idle < 30 and sat < 100 else 'no'} |")
    lines.append(f"| 5. embedded stack start-up to ready | {r['embedded_startup_s']} s | < 2 s | {'yes' if r['embedded_startup_s'] < 2 else 'no'} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
