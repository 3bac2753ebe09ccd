#!/usr/bin/env python3
"""Benchmark driver (issues 8 and 15): every figure is measured side by side in one run.

0. SQL statements, transactions and prepared-statement reuse per order, counted by a private
   PostgreSQL (pg_stat_statements + log_statement=all) that only the bench's services use
1. cached GET /menus/{id} req/s ÷ GET /health req/s on the Restaurant Service (wrk)
2. POST /orders on one hot menu req/s ÷ pgbench running the reservation transaction
   (lock + update + ledger insert) at the same concurrency on the same PostgreSQL; the orders
   wrk counted as 201 are checked against the PAID orders /orders/stats gained and the stock
   the menu lost, and the bench fails when they disagree
2b. CPU per order: the three services' and their PostgreSQL backends' CPU time (from /proc)
   over a fixed number of orders ÷ that number; optionally a flame graph of the same run
2c. concurrency sweep: POST /orders at 1, 4, 16, 64, 256 clients, throughput and p50/p99 per
   step (drawn as an SVG); the bench fails on any 5xx or a stall
3. the load generator's ceiling ÷ wrk's on GET /menus (when loadgen is built)
4. p50/p99 of the full order flow at a fixed open-loop rate below saturation (loadgen --rate)
5. resident memory per service idle and at saturation; embedded stack start-up to ready

Writes reports/bench/<date>.json, .md and -sweep.svg; exits 1 when a self-check failed.
The whole run is bounded (--max-seconds, default 540 s).
"""

import argparse
import concurrent.futures
import datetime
import gzip
import json
import math
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
# BENCH_BIN_DIR: binaries to measure instead of this tree's release build (e.g. an older build).
BIN = os.environ.get("BENCH_BIN_DIR") or os.path.join(ROOT, "target", "release")
OUT_DIR = os.path.join(ROOT, "reports", "bench")
PG_SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
PG_BIN = next((f"/usr/lib/postgresql/{v}/bin" for v in ("17", "16", "15") if os.path.isdir(f"/usr/lib/postgresql/{v}/bin")), None)
PGBENCH = shutil.which("pgbench") or (PG_BIN and os.path.join(PG_BIN, "pgbench"))
# The bench's own admin token: the admin calls (menus, /orders/stats, /inventory) work the
# same whether or not the caller's environment configures one.
ADMIN_TOKEN = os.environ.get("ADMIN_TOKEN") or uuid.uuid4().hex
SWEEP = (1, 4, 16, 64, 256)


class BenchFailed(Exception):
    """A self-check of the bench failed: the figures cannot be trusted."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=10, admin=False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if admin:
        req.add_header("X-Admin-Token", ADMIN_TOKEN)
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


def proc_cpu(pid):
    """CPU seconds (user + system) a process used so far, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(procs, pg_pids=()):
    """CPU time so far of each service, of the bench's PostgreSQL backends (`pg_pids`), of
    every other PostgreSQL process (shared with whatever else uses the server), Redis, and
    the load tools."""
    out = {name: 0.0 for name in list(procs) + ["postgres", "postgres (other)", "redis", "wrk/pgbench"]}
    by_pid = {p.pid: n for n, p in procs.items()}
    ours = set(pg_pids)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        used = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        if int(pid) in by_pid:
            out[by_pid[int(pid)]] += used
        elif int(pid) in ours:
            out["postgres"] += used
        elif comm.startswith("postgres") or comm.startswith("postmaster"):
            out["postgres (other)"] += used
        elif comm.startswith("redis-server"):
            out["redis"] += used
        elif comm in ("wrk", "pgbench"):
            out["wrk/pgbench"] += used
    return out


def cpu_delta(before, after):
    return {k: round(after.get(k, 0) - before.get(k, 0), 3) for k in after}


class CpuMeter:
    """Samples `cpu_seconds` with the bench's PostgreSQL backends found anew at each sample
    (pools grow and pgbench connects during a run); a backend first seen at a later sample
    started after the earlier one, so all its CPU falls between them."""

    def __init__(self, procs, prefix):
        self.procs, self.prefix, self.seen = procs, prefix, set()

    def sample(self):
        self.seen |= set(pg_backends(self.prefix)) if self.prefix else set()
        return cpu_seconds(self.procs, self.seen)


def psql(sql, server=PG_SERVER, db="postgres"):
    """Runs one statement with psql against `server`; returns the rows (tab-separated)."""
    url = f"{server}/{db}"
    done = subprocess.run(["psql", url, "-AtX", "-F", "\t", "-c", sql], capture_output=True, text=True,
                          timeout=30, env={**os.environ, "PGSSLMODE": "disable"})
    if done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr.strip()}")
    return [line.split("\t") for line in done.stdout.splitlines() if line]


def pg_backends(prefix, server=PG_SERVER):
    """Process ids of the PostgreSQL backends connected to the bench's databases."""
    rows = psql(f"SELECT pid FROM pg_stat_activity WHERE datname LIKE '{prefix}%'", server)
    return [int(r[0]) for r in rows]


def run_sampled(cmd, duration, meter=None, env=None):
    """Runs a load command; with a `CpuMeter`, also the CPU each process used from 1 s after
    the start to 1 s before the end, scaled to the whole run (sampled while the load runs, so
    short-lived processes — PostgreSQL backends, the load tool — are counted)."""
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})
    cpu = None
    if meter is not None and duration > 2:
        time.sleep(1)
        before = meter.sample()
        time.sleep(duration - 2)
        cpu = {k: round(v / (duration - 2) * duration, 2) for k, v in cpu_delta(before, meter.sample()).items()}
    out, err = child.communicate(timeout=duration + 60)
    return out + err, cpu


def run_until_threads_stop(cmd, env, limit_s):
    """Runs wrk with a per-thread request limit (order.lua's BENCH_LIMIT): wrk's main thread
    sleeps for the whole -d even when every worker stopped, so this interrupts it (SIGINT:
    wrk prints its figures) as soon as only the main thread is left."""
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **env})
    deadline = time.time() + limit_s
    workers_seen = False
    while child.poll() is None and time.time() < deadline:
        try:
            tasks = len(os.listdir(f"/proc/{child.pid}/task"))
        except OSError:
            break
        if tasks > 1:
            workers_seen = True
        elif workers_seen:
            child.send_signal(signal.SIGINT)
            break
        time.sleep(0.01)
    out, err = child.communicate(timeout=limit_s + 60)
    return out + err


def parse_ms(text, label):
    m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", text)
    if not m:
        return None
    value, unit = float(m.group(1)), m.group(2)
    return round(value / 1000 if unit == "us" else value * 1000 if unit == "s" else value, 3)


def wrk(url, connections, duration, script=None, env=None, meter=None, timeout_s=10, limited=False):
    """One wrk run; `limited`: the script stops after BENCH_LIMIT answers (`duration` is
    then only the upper bound)."""
    threads = max(1, min(2, connections))
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", f"{timeout_s}s"]
    if script:
        cmd += ["-s", script]
    env = {**(env or {}), "BENCH_THREADS": str(threads)}
    if limited:
        return parse_wrk(run_until_threads_stop(cmd + [url], env, duration))
    text, cpu = run_sampled(cmd + [url], duration, meter, env)
    return parse_wrk(text, cpu)


def parse_wrk(text, cpu=None):
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if not m:
        raise BenchFailed(f"wrk printed no rate:\n{text}")
    total = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", text)
    statuses = re.search(r"STATUSES (\{.*\})", text)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(m.group(1)),
        "requests": int(total.group(1)) if total else None,
        "cpu_seconds": cpu,
        "p50_ms": parse_ms(text, "50"),
        "p99_ms": parse_ms(text, "99"),
        "statuses": json.loads(statuses.group(1)) if statuses else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()))) if sockets else {},
    }


def loadgen_run(scenario, urls, tmp, duration):
    """Runs a bench scenario with the release loadgen; returns its summary.json."""
    reports = os.path.join(tmp, "reports")
    subprocess.run([os.path.join(BIN, "loadgen"), "run", os.path.join(ROOT, "bench", scenario),
                    "--no-dashboard", "--run-time", f"{duration}s", "--report-dir", reports,
                    "--user-url", urls["user"], "--restaurant-url", urls["restaurant"],
                    "--order-url", urls["order"]], capture_output=True, text=True, check=False,
                   timeout=duration + 120, env={**os.environ, "ADMIN_TOKEN": ADMIN_TOKEN})
    name = "bench-" + scenario.removesuffix(".toml")
    run_dir = sorted(os.listdir(os.path.join(reports, name)))[-1]
    with open(os.path.join(reports, name, run_dir, "summary.json")) as f:
        return json.load(f)


def start_services(prefix, tmp, server=PG_SERVER, extra_env=None, bin_dir=None):
    ports = {"user": free_port(), "restaurant": free_port(), "order": free_port()}
    urls = {k: f"http://127.0.0.1:{v}" for k, v in ports.items()}
    dbs = {"user": "users", "restaurant": "restaurants", "order": "orders"}
    procs = {}
    for name in ("user", "restaurant", "order"):
        env = {
            **os.environ,
            "PORT": str(ports[name]),
            "HOST": "127.0.0.1",
            "DATABASE_URL": f"{server}/{prefix}{dbs[name]}",
            "REDIS_URL": REDIS,
            "CACHE_PREFIX": f"{prefix}{name}",
            "TESTBED_DEV": "1",
            "RUST_LOG": "warn",
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "USER_SERVICE_URL": urls["user"],
            "RESTAURANT_SERVICE_URL": urls["restaurant"],
            "LOGIN_ATTEMPTS_PER_MINUTE": "100000",
            **(extra_env or {}),
        }
        procs[name] = subprocess.Popen([os.path.join(bin_dir or BIN, f"{name}-service")], env=env, cwd=tmp,
                                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, f"{prefix}{name}.log"), "w"))
        wait_ready(urls[name])
    return urls, procs


def stop_services(procs, prefix, server=PG_SERVER):
    for p in procs.values():
        p.send_signal(signal.SIGTERM)
    for p in procs.values():
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    for db in ("users", "restaurants", "orders"):
        try:
            psql(f'DROP DATABASE IF EXISTS "{prefix}{db}" WITH (FORCE)', server)
        except Exception:
            pass


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


# ---------------------------------------------------------------------------------------
# Orders: a hot menu, a bearer, and what the services say was really sold.


class OrderBench:
    """POST /orders runs against one stack: a user's token, fresh hot menus, and the
    services' own books (/orders/stats, /inventory/{menu}) to check every count against."""

    def __init__(self, urls, procs, prefix, tmp):
        self.urls, self.procs, self.prefix, self.tmp = urls, procs, prefix, tmp
        name = f"bench_{uuid.uuid4().hex[:8]}"
        http("POST", f"{urls['user']}/signup", {"username": name, "password": "bench-pass-1"})
        self.token = http("POST", f"{urls['user']}/login", {"username": name, "password": "bench-pass-1"})[1]["access_token"]

    def new_menu(self, stock=100_000_000):
        status, body = http("POST", f"{self.urls['restaurant']}/admin/menus",
                            {"name": "Bench Chicken", "price": 20000, "stock": stock}, admin=True)
        if status != 201 and status != 200:
            raise BenchFailed(f"creating a bench menu answered {status}: {body}")
        return body["id"]

    def books(self, menu):
        """(PAID orders, PENDING orders, the menu's stock) as the services record them."""
        status, stats = http("GET", f"{self.urls['order']}/orders/stats", admin=True)
        if status != 200:
            raise BenchFailed(f"/orders/stats answered {status}: {stats}")
        status, audit = http("GET", f"{self.urls['restaurant']}/inventory/{menu}", admin=True)
        if status != 200:
            raise BenchFailed(f"/inventory/{menu} answered {status}: {audit}")
        return stats["by_status"]["PAID"], stats["by_status"]["PENDING"], audit["stock"]

    def settled_books(self, menu, timeout=20):
        """The books once no order is PENDING any more (wrk abandons the requests in flight
        when it stops; their sagas still run to the end)."""
        deadline = time.time() + timeout
        while True:
            paid, pending, stock = self.books(menu)
            if pending == 0:
                return paid, stock
            if time.time() > deadline:
                raise BenchFailed(f"{pending} orders still PENDING {timeout} s after the run")
            time.sleep(0.1)

    def wrk_orders(self, menu, connections, duration, limit=None, cpu=False, timeout_s=10):
        env = {"BENCH_TOKEN": self.token, "BENCH_MENU": str(menu)}
        if limit:
            env["BENCH_LIMIT"] = str(limit)
        return wrk(f"{self.urls['order']}/orders", connections, duration, os.path.join(ROOT, "bench", "order.lua"),
                   env=env, meter=CpuMeter(self.procs, self.prefix) if cpu else None, timeout_s=timeout_s,
                   limited=bool(limit))

    def verified_run(self, connections, duration, cpu=False):
        """A wrk run on a fresh hot menu whose count of 201s is checked against the services'
        books: PAID gained must equal the stock lost, and lie between wrk's 201 count and
        that plus the connections (requests wrk abandoned in flight when it stopped)."""
        menu = self.new_menu()
        paid0, stock0 = self.settled_books(menu)
        run = self.wrk_orders(menu, connections, duration, cpu=cpu)
        paid1, stock1 = self.settled_books(menu)
        statuses = run["statuses"] or {}
        created = statuses.get("201", 0)
        check = {
            "wrk_201": created,
            "wrk_other_statuses": {k: v for k, v in statuses.items() if k != "201"},
            "paid_gained": paid1 - paid0,
            "stock_lost": stock0 - stock1,
        }
        problems = []
        if run["statuses"] is None:
            problems.append("wrk printed no status counts")
        if check["paid_gained"] != check["stock_lost"]:
            problems.append(f"PAID gained {check['paid_gained']} but the stock fell by {check['stock_lost']}")
        if not created <= check["paid_gained"] <= created + connections:
            problems.append(f"wrk counted {created} orders created but PAID grew by {check['paid_gained']}")
        if check["wrk_other_statuses"]:
            problems.append(f"answers other than 201: {check['wrk_other_statuses']}")
        check["agrees"] = not problems
        check["problems"] = problems
        return run, check


def cpu_per_order(bench, count, connections):
    """CPU of the three services and their PostgreSQL backends over `count` orders ÷ the
    orders PAID (from the services' books, so abandoned or failed requests do not count)."""
    menu = bench.new_menu()
    bench.wrk_orders(menu, connections, 30, limit=200)  # warm: pools at size, caches filled
    paid0, _ = bench.settled_books(menu)
    meter = CpuMeter(bench.procs, bench.prefix)
    before = meter.sample()
    started = time.perf_counter()
    run = bench.wrk_orders(menu, connections, 120, limit=count)
    time.sleep(0.3)  # the sagas of requests wrk abandoned end; then sample before reading the books
    elapsed = time.perf_counter() - started
    after = meter.sample()
    paid1, _ = bench.settled_books(menu)
    used = cpu_delta(before, after)
    orders = paid1 - paid0
    counted = sum(used[k] for k in ("user", "restaurant", "order", "postgres"))
    return {
        "orders": orders,
        "connections": connections,
        "seconds": round(elapsed, 2),
        "rps": run["rps"],
        "cpu_seconds": used,
        "cpu_ms_per_order": round(counted / orders * 1000, 3) if orders else None,
        "cpu_ms_per_order_by_process": {k: round(v / orders * 1000, 3) for k, v in used.items()} if orders else None,
        "target_ms": 1.2,
    }


def flame_graph(bench, count, connections, label):
    """A flame graph of `count` orders: perf samples the three services and their PostgreSQL
    backends (nothing else on the machine), inferno draws it. Returns the SVG path and the
    samples' breakdown (`flame_breakdown`), or None and why not."""
    if not (shutil.which("perf") and shutil.which("inferno-collapse-perf") and shutil.which("inferno-flamegraph")):
        return None, "perf or inferno not installed (apt-get install linux-perf; cargo install inferno)"
    menu = bench.new_menu()
    bench.wrk_orders(menu, connections, 30, limit=200)
    names = {p.pid: f"{name}-service" for name, p in bench.procs.items()}
    for pid, db in psql(f"SELECT pid, datname FROM pg_stat_activity WHERE datname LIKE '{bench.prefix}%'"):
        names[int(pid)] = f"postgres ({db.removeprefix(bench.prefix)} database)"
    data = os.path.join(bench.tmp, f"perf-{label}.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-F", "249", "--call-graph", "dwarf,16384", "-o", data,
                             "-p", ",".join(map(str, names))], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    bench.wrk_orders(menu, connections, 120, limit=count)
    perf.send_signal(signal.SIGINT)
    perf.wait(timeout=60)
    flame_dir = os.path.join(OUT_DIR, "flame")
    os.makedirs(flame_dir, exist_ok=True)
    svg = os.path.join(flame_dir, f"{label}-orders.svg")
    script = subprocess.Popen(["perf", "script", "-F", "+pid", "-i", data], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    collapsed = subprocess.run(["inferno-collapse-perf", "--all", "--pid"], stdin=script.stdout, capture_output=True,
                               timeout=300, text=True)
    script.wait(timeout=300)
    # The root frame is `<thread name>-<pid>`: name it after the service or database instead.
    folded = []
    for line in collapsed.stdout.splitlines():
        root, separator, rest = line.partition(";")
        pid = root.rsplit("-", 1)[-1]
        if separator and pid.isdigit() and int(pid) in names:
            line = f"{names[int(pid)]};{rest}"
        folded.append(line)
    folded = "\n".join(folded).encode() + b"\n"
    title = f"POST /orders, {count} orders at {connections} connections: services + their PostgreSQL backends ({label})"
    with open(svg, "wb") as out:
        subprocess.run(["inferno-flamegraph", "--title", title], input=folded, stdout=out, timeout=120, check=True)
    # The stacks beside the picture (gzip), for inferno-diff-folded between two runs.
    with gzip.open(svg.removesuffix(".svg") + ".folded.gz", "wb") as out:
        out.write(folded)
    return os.path.relpath(svg, ROOT), flame_breakdown(folded)


# Where a sample's CPU went: the first category (in this order) one of its frames matches.
FLAME_CATEGORIES = [
    ("pool pings (sqlx)", ("::ping", "return_to_pool")),
    ("lock manager (relation locks, row-lock waits)", ("XactLockTableWait", "LockAcquire", "LockRelease")),
    ("commit (WAL write + flush)", ("CommitTransaction",)),
    ("SQL execution", ("PortalRun", "exec_bind_message", "exec_execute_message", "exec_parse_message")),
    ("DB protocol & socket I/O", ("pq_getbyte", "secure_read", "secure_write", "pq_flush", "WaitEventSetWait", "ReadCommand")),
    ("DB client (sea-orm, sqlx)", ("sqlx_", "sea_orm")),
    ("HTTP (hyper, reqwest)", ("hyper", "reqwest", "h2::")),
    ("Redis client", ("redis::",)),
    ("JWT", ("jsonwebtoken",)),
    ("JSON", ("serde_json",)),
]


def flame_breakdown(folded):
    """% of all samples per process (the root frame) and category, from folded stacks."""
    table = {}
    total = 0
    for line in folded.decode(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        category = next((name for name, marks in FLAME_CATEGORIES
                         if any(mark in f for f in frames[1:] for mark in marks)), "runtime, kernel, other")
        row = table.setdefault(frames[0], {})
        row[category] = row.get(category, 0) + n
    return {root: {k: round(v / total * 100, 1) for k, v in sorted(cats.items(), key=lambda kv: -kv[1])}
            for root, cats in sorted(table.items(), key=lambda kv: -sum(kv[1].values()))} if total else {}


def concurrency_sweep(bench, step_seconds):
    """POST /orders at 1 … 256 clients on one hot menu; any 5xx or stall fails the bench."""
    menu = bench.new_menu()
    steps = []
    for clients in SWEEP:
        run = bench.wrk_orders(menu, clients, step_seconds)
        statuses = run["statuses"] or {}
        server_errors = sum(v for k, v in statuses.items() if k.startswith("5"))
        timeouts = run["socket_errors"].get("timeout", 0)
        problems = []
        if server_errors:
            problems.append(f"{server_errors} answers 5xx")
        if timeouts or not run["requests"]:
            problems.append(f"stalled: {timeouts} requests unanswered after 10 s, {run['requests']} answered")
        if run["statuses"] is None:
            problems.append("wrk printed no status counts")
        steps.append({"clients": clients, "rps": run["rps"], "p50_ms": run["p50_ms"], "p99_ms": run["p99_ms"],
                      "requests": run["requests"], "statuses": statuses, "problems": problems})
    bench.settled_books(menu)
    return steps


# ---------------------------------------------------------------------------------------
# Statements per order, on a private PostgreSQL only the bench's services talk to.


def private_postgres(tmp):
    """Starts a throw-away PostgreSQL cluster that logs every statement and loads
    pg_stat_statements. Returns (server URL, stop function, log path) or None when this
    machine cannot (no server binaries, not root)."""
    if not PG_BIN or os.geteuid() != 0 or not shutil.which("runuser"):
        return None
    base = tempfile.mkdtemp(prefix="bench-pg-")
    os.chmod(base, 0o755)
    data, log = os.path.join(base, "data"), os.path.join(base, "server.log")
    shutil.chown(base, "postgres", "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(as_pg + [f"{PG_BIN}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    port = free_port()
    options = (f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60 "
               "-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all "
               "-c log_statement=all -c log_line_prefix='%d\t' -c logging_collector=off")
    subprocess.run(as_pg + [f"{PG_BIN}/pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "start"],
                   check=True, capture_output=True, timeout=60)
    server = f"postgres://postgres@127.0.0.1:{port}"
    psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", server)

    def stop():
        subprocess.run(as_pg + [f"{PG_BIN}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)

    return server, stop, log


def statements_per_order(tmp, count=200, concurrency=8, bin_dir=None):
    """Places `count` orders (8 at a time) on a private PostgreSQL and counts, per order and
    per service database: statements executed (pg_stat_statements, BEGIN/COMMIT included),
    transactions committed, and how the executions were sent (named = a statement sqlx
    prepared once and reuses from its per-connection cache, unnamed = parsed every time)."""
    private = private_postgres(tmp)
    if private is None:
        return {"skipped": "no PostgreSQL server binaries or not root: cannot start a private cluster"}
    server, stop, log = private
    prefix = f"bench_{uuid.uuid4().hex[:8]}_"
    procs = {}
    try:
        urls, procs = start_services(prefix, tmp, server, {"RECOVERY_INTERVAL_SECS": "3600"}, bin_dir)
        bench = OrderBench(urls, procs, prefix, tmp)
        menu = bench.new_menu()
        place = lambda: http("POST", f"{urls['order']}/orders", {"items": [{"menu_id": menu, "quantity": 1}], "address": "Seoul",
                                                               "phone": "010-1234-5678"}, token=bench.token)
        for _ in range(2 * concurrency):
            place()
        psql("SELECT pg_stat_statements_reset()", server)
        xid0 = int(psql("SELECT pg_current_xact_id()::text::bigint", server)[0][0])
        log_start = os.path.getsize(log)
        with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
            answers = list(pool.map(lambda _: place()[0], range(count)))
        # Only writing transactions take a transaction id; the two reads of it take one each.
        writes = int(psql("SELECT pg_current_xact_id()::text::bigint", server)[0][0]) - xid0 - 1
        rows = psql("SELECT d.datname, s.calls, s.toplevel, regexp_replace(s.query, '\\s+', ' ', 'g') FROM pg_stat_statements s "
                    f"JOIN pg_database d ON d.oid = s.dbid WHERE d.datname LIKE '{prefix}%' ORDER BY d.datname, s.calls DESC", server)
        time.sleep(0.2)
        with open(log, errors="replace") as f:
            f.seek(log_start)
            logged = [line for line in f if line.startswith(prefix)]
    finally:
        if procs:
            stop_services(procs, prefix, server)
        stop()
    paid = answers.count(201)
    if not paid:
        return {"skipped": f"no order was PAID on the private cluster: {sorted(set(answers))}"}
    per_db = {}
    for db in ("users", "restaurants", "orders"):
        name = prefix + db
        mine = [(int(calls), toplevel == "t", query) for d, calls, toplevel, query in rows if d == name]
        lines = [line for line in logged if line.startswith(name + "\t")]
        per_db[db] = {
            "statements": round(sum(c for c, top, _ in mine if top) / paid, 2),
            "nested_statements": round(sum(c for c, top, _ in mine if not top) / paid, 2),
            "executed_prepared_named": round(sum("execute sqlx_s_" in l for l in lines) / paid, 2),
            "executed_unnamed": round(sum("execute <unnamed>" in l for l in lines) / paid, 2),
            "simple_queries": round(sum("LOG:  statement:" in l for l in lines) / paid, 2),
            "by_statement": [{"per_order": round(c / paid, 2), "toplevel": top, "sql": q[:200]}
                             for c, top, q in mine if c >= paid / 10],
        }
    return {
        "orders": count,
        "paid": paid,
        "per_order": per_db,
        "total_statements": round(sum(v["statements"] for v in per_db.values()), 2),
        "write_transactions": round(writes / paid, 2),
        "note": "statements: sent by the services (BEGIN and COMMIT included); nested: run inside them "
                "(foreign-key checks, a function's own statements); write transactions: transaction ids taken",
    }


def baseline_figures(args, tmp, pg_tps):
    """The order figures of older service binaries (`--baseline-bin`), measured in the same
    run on the same machine, so a before/after comparison is not skewed by a busier hour."""
    out = {"bin_dir": args.baseline_bin, "statements": statements_per_order(tmp, bin_dir=args.baseline_bin)}
    prefix = f"bench_{uuid.uuid4().hex[:8]}_"
    procs = {}
    try:
        urls, procs = start_services(prefix, tmp, bin_dir=args.baseline_bin)
        bench = OrderBench(urls, procs, prefix, tmp)
        orders, check = bench.verified_run(args.connections, args.duration)
        out["orders"] = orders
        out["check"] = check
        out["ratio_vs_pgbench"] = round(orders["rps"] / pg_tps, 3) if pg_tps else None
        out["cpu_per_order"] = cpu_per_order(bench, args.cpu_orders, args.connections)
        if args.flame:
            path, breakdown = flame_graph(bench, args.cpu_orders, args.connections, "before")
            out["flame_graph"] = path or f"(not drawn: {breakdown})"
            if path:
                out["flame_breakdown"] = breakdown
    finally:
        if procs:
            stop_services(procs, prefix)
    return out


# ---------------------------------------------------------------------------------------
# Report.


def sweep_svg(steps, title):
    """Throughput (bars) and p50/p99 latency (lines, log scale) per step, as a standalone SVG."""
    w, h, left, right, top, bottom = 720, 400, 70, 80, 50, 60
    pw, ph = w - left - right, h - top - bottom
    n = len(steps)
    slot = pw / n
    max_rps = max(s["rps"] for s in steps) * 1.15 or 1
    lat = [v for s in steps for v in (s["p50_ms"], s["p99_ms"]) if v]
    lo, hi = 10 ** math.floor(math.log10(min(lat))), max(lat) * 1.5

    def ly(v):
        return top + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
           f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>',
           f'<line x1="{left + pw}" y1="{top}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>',
           f'<text x="16" y="{top + ph / 2}" transform="rotate(-90 16 {top + ph / 2})" text-anchor="middle">orders/s (bars)</text>',
           f'<text x="{w - 14}" y="{top + ph / 2}" transform="rotate(90 {w - 14} {top + ph / 2})" text-anchor="middle">latency ms, log (lines)</text>',
           f'<text x="{left + pw / 2}" y="{h - 14}" text-anchor="middle">concurrent clients</text>']
    for i in range(5):
        v = max_rps * i / 4
        y = top + ph - ph * i / 4
        out.append(f'<text x="{left - 6}" y="{y + 4}" text-anchor="end">{v:.0f}</text>')
        out.append(f'<line x1="{left}" y1="{y}" x2="{left + pw}" y2="{y}" stroke="#ddd"/>')
    tick = lo
    while tick <= hi:
        out.append(f'<text x="{left + pw + 6}" y="{ly(tick) + 4}">{tick:g}</text>')
        tick *= 10
    points = {"p50_ms": [], "p99_ms": []}
    for i, s in enumerate(steps):
        cx = left + slot * (i + 0.5)
        bh = s["rps"] / max_rps * ph
        colour = "#c0392b" if s["problems"] else "#7fa7d9"
        out.append(f'<rect x="{cx - slot * 0.3}" y="{top + ph - bh}" width="{slot * 0.6}" height="{bh}" fill="{colour}"/>')
        out.append(f'<text x="{cx}" y="{top + ph - 6}" text-anchor="middle" fill="white">{s["rps"]:.0f}/s</text>')
        out.append(f'<text x="{cx}" y="{top + ph + 16}" text-anchor="middle">{s["clients"]}</text>')
        for key in points:
            if s[key]:
                points[key].append((cx, ly(s[key])))
    for key, colour in (("p50_ms", "#27ae60"), ("p99_ms", "#e67e22")):
        if points[key]:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in points[key])}"/>')
            for x, y in points[key]:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
    out.append(f'<text x="{left + 10}" y="{top - 8}" fill="#27ae60">● p50</text>')
    out.append(f'<text x="{left + 60}" y="{top - 8}" fill="#e67e22">● p99</text>')
    out.append(f'<text x="{left + 110}" y="{top - 8}" fill="#c0392b">■ step with a 5xx or stall</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def yes(ok):
    return "yes" if ok else "**no**"


def render_markdown(r):
    m = r["machine"]
    r1, r2 = r["ratio1_cached_menu_vs_health"], r["ratio2_orders_vs_pgbench"]
    lines = [
        f"# Benchmarks {r['date']}",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Linux {m['kernel']}; load average "
        f"{m['load_average_before']} when the run began. wrk -t2 -c{r['settings']['connections']} for {r['settings']['duration_s']} s per run; "
        "services are release builds, one process each, on PostgreSQL + Redis on the same machine (load generator, "
        "database and services share the cores).",
        "",
        "| figure | measured | target | met |",
        "|---|---|---|---|",
        f"| 1. cached `GET /menus/1` ÷ `GET /health` | {r1['cached_menu']['rps']:.0f} ÷ {r1['health']['rps']:.0f} req/s = **{r1['ratio']}** | ≥ 0.5 | {yes(r1['ratio'] >= 0.5)} |",
    ]
    if r2["ratio"] is not None:
        lines.append(f"| 2. `POST /orders` (hot menu) ÷ pgbench reservation tx, {r['settings']['connections']} connections | {r2['orders']['rps']:.0f} ÷ {r2['pgbench_tps']:.0f} /s = **{r2['ratio']}** | ≥ 0.7 | {yes(r2['ratio'] >= 0.7)} |")
    check = r2["check"]
    lines.append(f"| 2. orders really PAID (wrk's 201s / PAID gained in `/orders/stats` / stock lost) | {check['wrk_201']} / {check['paid_gained']} / {check['stock_lost']} | agree | {yes(check['agrees'])} |")
    c = r.get("cpu_per_order")
    if c and c.get("cpu_ms_per_order") is not None:
        lines.append(f"| 2b. CPU per order (3 services + their PostgreSQL backends), {c['orders']} orders at {c['connections']} connections | **{c['cpu_ms_per_order']} ms** | ≤ 1.2 ms | {yes(c['cpu_ms_per_order'] <= 1.2)} |")
    s = r.get("statements")
    if s and "per_order" in s:
        lines.append(f"| 0. SQL statements sent / write transactions per order (private PostgreSQL, {s['paid']} orders) | {s['total_statements']} / {s['write_transactions']} | – | – |")
    sweep = r.get("sweep")
    if sweep:
        worst = max((st["p99_ms"] or 0) for st in sweep)
        ok = not any(st["problems"] for st in sweep)
        lines.append(f"| 2c. sweep 1…256 clients: no 5xx, no stall ([SVG]({os.path.basename(r['sweep_svg'])})) | peak {max(st['rps'] for st in sweep):.0f} orders/s, worst p99 {worst:.0f} ms | none | {yes(ok)} |")
    r3, r4 = r["ratio3_loadgen_vs_wrk"], r["figure4_order_flow_open_loop"]
    lines.append(f"| 3. loadgen ceiling ÷ wrk on `GET /menus`, 16 connections, recording on | {r3['loadgen_rps']:.0f} ÷ {r3['wrk']['rps']:.0f} req/s = **{r3['ratio']}** | ≥ 0.8 | {yes(r3['ratio'] >= 0.8)} |")
    lines.append(f"| 4. full order flow at {r4['rate_per_s']}/s open loop ({r4['requests']} orders, {r4['errors']} errors) | p50 {r4['p50_ms']} ms, p99 {r4['p99_ms']} ms | – | – |")
    lines.append(f"| order latency at saturation (wrk, closed loop) | p50 {r2['orders'].get('p50_ms') or 0:.1f} ms, p99 {r2['orders'].get('p99_ms') or 0:.1f} ms | – | – |")
    for name in ("user", "restaurant", "order"):
        idle, sat = r["rss_idle_mib"][name], r["rss_saturation_mib"][name]
        lines.append(f"| 5. {name} service RSS idle / peak at saturation | {idle} MiB / {sat} MiB | < 30 / < 100 MiB | {yes(idle < 30 and sat < 100)} |")
    lines.append(f"| 5. embedded stack start-up to ready | {r['embedded_startup_s']} s | < 2 s | {yes(r['embedded_startup_s'] < 2)} |")
    mem = r.get("loadgen_memory")
    if mem:
        lines.append(f"| 6. loadgen RSS over a {mem['minutes']} min run (`bench/loadgen-memory.sh`): at 1 min / peak after / growth | "
                     f"{mem['rss_1min_mib']} MiB / {mem['rss_peak_mib']} MiB / **{mem['growth_percent']:+} %** | ≤ +20 % | {yes(mem['growth_percent'] <= 20)} |")
    lines += render_details(r)
    return "\n".join(lines) + "\n"


def render_details(r):
    lines = []
    r2 = r["ratio2_orders_vs_pgbench"]
    if r2["check"]["problems"]:
        lines += ["", "**Figure 2's self-check failed:** " + "; ".join(r2["check"]["problems"])]
    c = r.get("cpu_per_order")
    if c and c.get("cpu_ms_per_order_by_process"):
        keys = list(c["cpu_ms_per_order_by_process"])
        lines += ["", f"CPU per order by process (ms; {c['orders']} orders in {c['seconds']} s, {c['rps']:.0f}/s; "
                      "`postgres` is the backends of the bench's databases, `postgres (other)` every other PostgreSQL "
                      "process on the shared server, not counted):", "",
                  "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys),
                  "| " + " | ".join(str(c["cpu_ms_per_order_by_process"][k]) for k in keys) + " |"]
    if r2.get("cpu_seconds_during_orders"):
        keys = list(r2["cpu_seconds_during_orders"])
        lines += ["", f"Where the CPU went during figure 2 (CPU seconds over the {r['settings']['duration_s']} s run, sampled while it ran):", "",
                  "| run | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys),
                  "| `POST /orders` | " + " | ".join(str(r2["cpu_seconds_during_orders"].get(k, 0)) for k in keys) + " |"]
        if r2.get("cpu_seconds_during_pgbench"):
            lines.append("| pgbench | " + " | ".join(str(r2["cpu_seconds_during_pgbench"].get(k, 0)) for k in keys) + " |")
    s = r.get("statements")
    if s and "per_order" in s:
        lines += ["", "SQL per order, counted on a private PostgreSQL (pg_stat_statements, `log_statement=all`):", "",
                  "| database | statements sent | nested (FK checks, function body) | prepared once, reused (named) | parsed each time (unnamed) | simple queries (BEGIN/COMMIT) |",
                  "|---|---|---|---|---|---|"]
        for db, v in s["per_order"].items():
            lines.append(f"| {db} | {v['statements']} | {v['nested_statements']} | {v['executed_prepared_named']} | {v['executed_unnamed']} | {v['simple_queries']} |")
        lines += ["", f"Write transactions per order: {s['write_transactions']}.", "",
                  "| database | per order | sent or nested | statement |", "|---|---|---|---|"]
        for db, v in s["per_order"].items():
            for st in v["by_statement"]:
                lines.append(f"| {db} | {st['per_order']} | {'sent' if st['toplevel'] else 'nested'} | `{st['sql'].replace('|', '/')}` |")
    elif s:
        lines += ["", f"Statement count skipped: {s['skipped']}"]
    sweep = r.get("sweep")
    if sweep:
        lines += ["", f"Concurrency sweep, `POST /orders` on one hot menu, {r['settings']['sweep_step_s']} s per step "
                      f"(![sweep]({os.path.basename(r['sweep_svg'])})):", "",
                  "| clients | orders/s | p50 ms | p99 ms | answers | problems |", "|---|---|---|---|---|---|"]
        for st in sweep:
            lines.append(f"| {st['clients']} | {st['rps']:.0f} | {st['p50_ms']} | {st['p99_ms']} | {st['statuses']} | {'; '.join(st['problems']) or 'none'} |")
    lines += render_baseline(r)
    lines += render_profiles(r)
    flames = r.get("flame_graphs") or {}
    if flames:
        lines += ["", "Flame graphs (perf, the three services and their PostgreSQL backends only):", ""]
        for label, path in flames.items():
            lines.append(f"- {label}: [{path}]({os.path.relpath(os.path.join(ROOT, path), OUT_DIR) if not path.startswith('(') else ''})")
    lines += render_breakdown("after" if r.get("baseline") else "this run", r.get("flame_breakdown"))
    lines += render_breakdown("before", (r.get("baseline") or {}).get("flame_breakdown"))
    if r.get("failures"):
        lines += ["", "## Self-checks that failed", ""] + [f"- {f}" for f in r["failures"]]
    return lines


def render_breakdown(label, breakdown):
    """The flame graph's samples by process and category, % of all samples."""
    if not breakdown:
        return []
    categories = [name for name, _ in FLAME_CATEGORIES] + ["runtime, kernel, other"]
    used = [c for c in categories if any(c in row for row in breakdown.values())]
    lines = ["", f"Where the CPU of the orders went ({label}; % of all perf samples of the services and their "
                 "PostgreSQL backends; each sample counted once, in the first category that matches):", "",
             "| process | all | " + " | ".join(used) + " |", "|---|---|" + "---|" * len(used)]
    for root, row in breakdown.items():
        lines.append(f"| {root} | {sum(row.values()):.1f} | " + " | ".join(str(row.get(c, 0)) for c in used) + " |")
    return lines


def render_profiles(r):
    """The runtime cost of faster-building Cargo profiles, beside this run's release figures."""
    profiles = r.get("profiles")
    if not profiles:
        return []
    release_rps, release_cpu = r["ratio2_orders_vs_pgbench"]["orders"]["rps"], (r.get("cpu_per_order") or {}).get("cpu_ms_per_order")
    lines = ["", f"Build profiles at run time (`POST /orders`, {r['settings']['connections']} connections; same run, same pgbench):", "",
             "| profile | orders/s | ÷ release | CPU per order, ms | ÷ release |", "|---|---|---|---|---|",
             f"| release | {release_rps:.0f} | 1.0 | {release_cpu} | 1.0 |"]
    for label, p in profiles.items():
        rps, cpu = p["orders"]["rps"], (p.get("cpu_per_order") or {}).get("cpu_ms_per_order")
        cpu_ratio = round(cpu / release_cpu, 2) if cpu and release_cpu else "–"
        lines.append(f"| {label} (`{p['bin_dir']}`) | {rps:.0f} | {round(rps / release_rps, 2)} | {cpu} | {cpu_ratio} |")
    return lines


def render_baseline(r):
    """Before (the `--baseline-bin` services) and after (this tree), from this one run."""
    b = r.get("baseline")
    if not b:
        return []
    r2, s, c = r["ratio2_orders_vs_pgbench"], r.get("statements") or {}, r.get("cpu_per_order") or {}
    bs, bc = b.get("statements") or {}, b.get("cpu_per_order") or {}
    rows = [
        ("SQL statements sent per order", bs.get("total_statements"), s.get("total_statements")),
        ("write transactions (commits) per order", bs.get("write_transactions"), s.get("write_transactions")),
        (f"`POST /orders` at {r['settings']['connections']} connections, orders/s", round(b["orders"]["rps"]), round(r2["orders"]["rps"])),
        ("÷ pgbench reservation tx (same pgbench figure)", b.get("ratio_vs_pgbench"), r2.get("ratio")),
        ("CPU per order, ms (3 services + their PostgreSQL backends)", bc.get("cpu_ms_per_order"), c.get("cpu_ms_per_order")),
    ]
    for name in ("user", "restaurant", "order", "postgres"):
        rows.append((f"… of which {name}", (bc.get("cpu_ms_per_order_by_process") or {}).get(name),
                     (c.get("cpu_ms_per_order_by_process") or {}).get(name)))
    lines = ["", f"Before → after, measured in this run (before: the services in `{b['bin_dir']}`):", "",
             "| figure | before | after |", "|---|---|---|"]
    lines += [f"| {name} | {before} | {after} |" for name, before, after in rows]
    if b.get("flame_graph"):
        lines += ["", f"- before: [{b['flame_graph']}]({os.path.relpath(os.path.join(ROOT, b['flame_graph']), OUT_DIR) if not b['flame_graph'].startswith('(') else ''})"]
    return lines


# ---------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk/pgbench run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sweep-step", type=int, default=5, help="seconds per concurrency step")
    parser.add_argument("--cpu-orders", type=int, default=3000, help="orders in the CPU-per-order run")
    parser.add_argument("--flame", metavar="LABEL", help="also draw reports/bench/flame/LABEL-orders.svg")
    parser.add_argument("--no-flame", action="store_true", help="no flame graph (bench/run.sh draws one by default)")
    parser.add_argument("--only", choices=["cpu", "statements"], help="measure only this (with --flame: and the graph)")
    parser.add_argument("--baseline-bin", metavar="DIR", help="also measure the order figures of the services in DIR (before/after)")
    parser.add_argument("--profile-bin", metavar="LABEL=DIR", action="append", default=[],
                        help="also measure orders/s and CPU per order of the services in DIR, built with another "
                             "Cargo profile (repeatable): the runtime cost of a faster build")
    parser.add_argument("--memory-samples", metavar="TSV",
                        help="bench/loadgen-memory.sh's samples of a long run, reported as the RSS figure")
    parser.add_argument("--max-seconds", type=int, default=540, help="stop the run (and fail) past this")
    args = parser.parse_args()
    if args.no_flame:
        args.flame = None

    def overran(*_):
        raise BenchFailed(f"the bench ran longer than {args.max_seconds} s")

    signal.signal(signal.SIGALRM, overran)
    signal.alarm(args.max_seconds)
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
            "load_average_before": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        },
        "settings": {"duration_s": d, "connections": c, "wrk_threads": 2, "sweep_step_s": args.sweep_step,
                     "cpu_orders": args.cpu_orders},
    }
    failures = []
    procs = {}
    try:
        if args.only in (None, "statements"):
            results["statements"] = statements_per_order(tmp)
            if args.only:
                print(json.dumps(results["statements"], indent=2))
                return 0
        urls, procs = start_services(prefix, tmp)
        time.sleep(1)
        results["rss_idle_mib"] = {n: round(rss_kib(p.pid) / 1024, 1) for n, p in procs.items()}
        bench = OrderBench(urls, procs, prefix, tmp)
        if args.only == "cpu":
            results["cpu_per_order"] = cpu_per_order(bench, args.cpu_orders, c)
            if args.flame:
                results["flame_graph"] = flame_graph(bench, args.cpu_orders, c, args.flame)
            print(json.dumps(results, indent=2))
            return 0
        failures = measure_all(args, results, urls, procs, bench, tmp)
    except BenchFailed as e:
        failures.append(str(e))
    finally:
        signal.alarm(0)
        if procs:
            stop_services(procs, prefix)
        shutil.rmtree(tmp, ignore_errors=True)
    results["failures"] = failures
    if "ratio2_orders_vs_pgbench" in results and "embedded_startup_s" in results:
        write_report(results)
    else:
        print(json.dumps(results, indent=2), file=sys.stderr)
    for failure in failures:
        print(f"BENCH SELF-CHECK FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


def measure_all(args, results, urls, procs, bench, tmp):
    """Every figure, in order; returns the self-checks that failed."""
    d, c = args.duration, args.connections
    failures = []

    # 1. cached read vs health on the same service.
    http("GET", f"{urls['restaurant']}/menus/1")
    health = wrk(f"{urls['restaurant']}/health", c, d)
    cached = wrk(f"{urls['restaurant']}/menus/1", c, d)
    results["ratio1_cached_menu_vs_health"] = {
        "health": health, "cached_menu": cached, "ratio": round(cached["rps"] / health["rps"], 3), "target": 0.5}

    # 2. POST /orders on one hot menu vs pgbench's reservation transaction, the count checked.
    orders, check = bench.verified_run(c, d, cpu=True)
    failures += [f"figure 2: {p}" for p in check["problems"]]
    orders_cpu = orders.pop("cpu_seconds")
    results["rss_saturation_mib"] = {n: round(rss_kib(p.pid, "VmHWM") / 1024, 1) for n, p in procs.items()}
    pg_menu = bench.new_menu()
    pg = pg_cpu = None
    if PGBENCH:
        text, pg_cpu = run_sampled([PGBENCH, "-n", "-h", "127.0.0.1", "-U", "postgres", "-c", str(c), "-j", "2",
                                    "-T", str(d), "-D", f"menu={pg_menu}", "-f", os.path.join(ROOT, "bench", "reserve.sql"),
                                    f"{bench.prefix}restaurants"], d, CpuMeter(procs, bench.prefix),
                                   # the services skip TLS on loopback; so does pgbench
                                   env={"PGSSLMODE": "disable"})
        m = re.search(r"tps = ([\d.]+)", text)
        pg = float(m.group(1)) if m else None
        if pg is None:
            print(text, file=sys.stderr)
    results["ratio2_orders_vs_pgbench"] = {
        "orders": orders, "orders_paid": check["paid_gained"], "check": check, "pgbench_tps": pg,
        "cpu_seconds_during_orders": orders_cpu, "cpu_seconds_during_pgbench": pg_cpu,
        "ratio": round(orders["rps"] / pg, 3) if pg else None, "target": 0.7}

    # 2b. CPU per order over a fixed count, and its flame graph.
    results["cpu_per_order"] = cpu_per_order(bench, args.cpu_orders, c)
    if args.flame:
        path, breakdown = flame_graph(bench, args.cpu_orders, c, args.flame)
        results["flame_graphs"] = {args.flame: path or f"(not drawn: {breakdown})"}
        if path:
            results["flame_breakdown"] = breakdown
    # 2c. the concurrency sweep.
    results["sweep"] = concurrency_sweep(bench, args.sweep_step)
    failures += [f"sweep at {s['clients']} clients: {p}" for s in results["sweep"] for p in s["problems"]]

    # 3. the load generator's ceiling vs wrk's on the same cheap endpoint and concurrency.
    menus_wrk = wrk(f"{urls['restaurant']}/menus", 16, d)
    ceiling = loadgen_run("loadgen-ceiling.toml", urls, tmp, d)
    results["ratio3_loadgen_vs_wrk"] = {
        "endpoint": "GET /menus (cached)", "connections": 16, "wrk": menus_wrk,
        "loadgen_rps": round(ceiling["requests_per_second"], 1),
        "ratio": round(ceiling["requests_per_second"] / menus_wrk["rps"], 3), "target": 0.8}

    # 4. the full order flow at a fixed open-loop rate below saturation.
    flow = loadgen_run("order-flow-rate.toml", urls, tmp, d)
    post = next(e for e in flow["endpoints"] if e["endpoint"] == "POST /orders")
    results["figure4_order_flow_open_loop"] = {
        "rate_per_s": 100, "mode": flow["mode"], "requests": post["requests"], "errors": post["errors"],
        "p50_ms": post["latency_ms"]["p50"], "p99_ms": post["latency_ms"]["p99"], "passed": flow["passed"]}

    results["embedded_startup_s"] = round(embedded_startup(tmp), 3)
    if args.baseline_bin:
        results["baseline"] = baseline_figures(args, tmp, results["ratio2_orders_vs_pgbench"]["pgbench_tps"])
        failures += [f"baseline figure 2: {p}" for p in results["baseline"]["check"]["problems"]]
    for spec in args.profile_bin:
        label, _, bin_dir = spec.partition("=")
        figures = profile_figures(args, tmp, bin_dir)
        results.setdefault("profiles", {})[label] = figures
        failures += [f"profile {label} figure 2: {p}" for p in figures["check"]["problems"]]
    if args.memory_samples:
        results["loadgen_memory"] = memory_figure(args.memory_samples)
    return failures


def profile_figures(args, tmp, bin_dir):
    """Orders/s and CPU per order of services built with another Cargo profile, measured in
    this run beside the release figures: what a faster build costs at run time."""
    prefix = f"bench_{uuid.uuid4().hex[:8]}_"
    procs = {}
    try:
        urls, procs = start_services(prefix, tmp, bin_dir=bin_dir)
        bench = OrderBench(urls, procs, prefix, tmp)
        orders, check = bench.verified_run(args.connections, args.duration)
        return {"bin_dir": bin_dir, "orders": orders, "check": check,
                "cpu_per_order": cpu_per_order(bench, args.cpu_orders, args.connections)}
    finally:
        if procs:
            stop_services(procs, prefix)


def memory_figure(path):
    """loadgen's RSS over a long run (bench/loadgen-memory.sh's samples): the figure at one
    minute, the peak after it and the growth, the issue's bound being 20 %."""
    rows = [line.split("\t") for line in open(path).read().splitlines()[1:] if line.strip()]
    samples = [(int(t), int(kib)) for t, kib in rows]
    after = [kib for t, kib in samples if t >= 60]
    base, peak = after[0], max(after)
    return {"samples_file": path, "minutes": round(samples[-1][0] / 60, 1), "rss_1min_mib": round(base / 1024, 1),
            "rss_peak_mib": round(peak / 1024, 1), "rss_last_mib": round(after[-1] / 1024, 1),
            "growth_percent": round((peak - base) * 100 / base, 1), "target_percent": 20}


def write_report(results):
    os.makedirs(OUT_DIR, exist_ok=True)
    stamp = datetime.date.today().isoformat()
    if results.get("sweep"):
        results["sweep_svg"] = os.path.join("reports", "bench", f"{stamp}-sweep.svg")
        with open(os.path.join(ROOT, results["sweep_svg"]), "w") as f:
            f.write(sweep_svg(results["sweep"], f"POST /orders on one hot menu by concurrency ({stamp})"))
    with open(os.path.join(OUT_DIR, f"{stamp}.json"), "w") as f:
        json.dump(results, f, indent=2)
    md = render_markdown(results)
    with open(os.path.join(OUT_DIR, f"{stamp}.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
