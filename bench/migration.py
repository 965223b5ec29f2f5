#!/usr/bin/env python3
"""Benchmark: mc-migrate run (load + verification) vs pgloader vs psql \\copy.

Generates (and caches) a deterministic SQLite database of the reference size
(20,000 users, 1,000,000 tasks, 100,000 sessions, 2,000 oauth_states, about
725 MB at --scale 1), starts a throwaway PostgreSQL with stock durability
settings (or uses --database-url, an admin URL allowed to create databases),
reads the file once into the page cache (untimed, so the order of the methods
does not matter), and times in one run:

* ``mc-migrate run`` in a subprocess: the whole thing, including pre-flight,
  index/FK build, setval, verification and commit; peak RSS from wait4();
* pgloader (Debian package) loading the same file, data only, into the schema
  (``prefetch rows = 10000``, see docs: the default exhausts its heap);
* psql ``\\copy`` of the same rows exported to CSV by the sqlite3 CLI (export
  untimed), secondary indexes and FKs built after the load.

Usage: python bench/migration.py [--scale 0.1] [--skip-pgloader] [--runs 1]
Not part of CI.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "migrate"))

from pgserver import PgServer  # noqa: E402
from sqlitedb import SCHEMA  # noqa: E402

SEED = 20240601
BASE = {"users": 20_000, "tasks": 1_000_000, "sessions": 100_000, "oauth_states": 2_000}
WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "deploy",
    "build",
    "review",
    "merge",
    "fix",
    "test",
    "ship",
    "plan",
    "draft",
]
SCHEMA_FILE = ROOT / "files" / "schema" / "mission_control.sql"
TABLES = ("users", "tasks", "sessions", "oauth_states")


def _ts(rng: random.Random) -> str:
    t = 1_700_000_000 + rng.randrange(40_000_000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def generate(path: Path, scale: float) -> dict[str, int]:
    counts = {k: max(1, int(v * scale)) for k, v in BASE.items()}
    if path.exists():
        return counts
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    rng = random.Random(SEED)
    conn = sqlite3.connect(tmp)
    conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA)
    nu = counts["users"]
    conn.executemany(
        "INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            (
                i,
                f"user{i}@example.com",
                f"User {i} {rng.choice(WORDS)}",
                f"https://avatars.example.com/u/{i}.png",
                rng.choice(("github", "google")),
                str(100000 + i),
                "https://api.openclaw.ai",
                f"tok_{rng.getrandbits(128):032x}",
                f'{{"theme": "{rng.choice(("dark", "light"))}", "notify": {(rng.random() < 0.5 and "true") or "false"}, "tz": "UTC"}}',  # noqa: E501
                _ts(rng),
                _ts(rng),
            )
            for i in range(1, nu + 1)
        ),
    )
    statuses = ("backlog", "todo", "in_progress", "review", "done")

    def tasks():
        for i in range(1, counts["tasks"] + 1):
            done = rng.random() < 0.4
            yield (
                i,
                rng.randint(1, nu),
                f"Task {i}: {_text(rng, 6)}",
                _text(rng, rng.randint(30, 90)),
                rng.choice(statuses),
                rng.choice(("low", "medium", "high")),
                '["' + '", "'.join(rng.sample(WORDS, rng.randint(0, 3))) + '"]'
                if rng.random() < 0.8
                else None,
                f"sess-{rng.getrandbits(64):016x}" if rng.random() < 0.5 else None,
                f"https://results.example.com/{i}" if done else None,
                _text(rng, rng.randint(5, 40)) if done else None,
                _ts(rng),
                _ts(rng),
                _ts(rng) if done else None,
            )

    conn.executemany("INSERT INTO tasks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", tasks())
    conn.executemany(
        "INSERT INTO sessions VALUES (?,?,?,?,?)",
        (
            (
                f"{rng.getrandbits(128):032x}",
                rng.randint(1, nu),
                f'{{"cookie": {{"maxAge": 604800}}, "user": {rng.randint(1, nu)}, "pad": "{_text(rng, 20)}"}}',  # noqa: E501
                _ts(rng),
                _ts(rng),
            )
            for _ in range(counts["sessions"])
        ),
    )
    conn.executemany(
        "INSERT INTO oauth_states VALUES (?,?,?)",
        (
            (f"{rng.getrandbits(128):032x}", rng.choice(("github", "google")), _ts(rng))
            for _ in range(counts["oauth_states"])
        ),
    )
    conn.commit()
    conn.close()
    tmp.rename(path)
    return counts


def warm(path: Path) -> float:
    """Read the file once so every method starts with it in the page cache (untimed).

    Without this the first method timed (mc-migrate) pays for reading a cold
    file from disk and the others do not.
    """
    t0 = time.monotonic()
    with path.open("rb") as fh:
        while fh.read(1 << 20):
            pass
    return time.monotonic() - t0


class Target:
    def __init__(self, admin: str) -> None:
        self.admin = admin

    def fresh(self, name: str, *, schema: bool) -> str:
        with psycopg.connect(self.admin, autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            c.execute(f"CREATE DATABASE {name}")
        url = self.url(name)
        if schema:
            with psycopg.connect(url, autocommit=True) as c:
                c.execute(SCHEMA_FILE.read_text().encode())
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("CHECKPOINT")
        return url

    def url(self, name: str) -> str:
        info = conninfo_to_dict(self.admin)
        info["dbname"] = name
        return make_conninfo(**info)

    def counts(self, url: str) -> dict[str, int]:
        with psycopg.connect(url) as c:
            return {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def run_engine(db: Path, url: str, workdir: Path) -> tuple[float, float, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    out_path, err_path = workdir / "engine.out", workdir / "engine.err"
    with out_path.open("w") as out, err_path.open("w") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mc_migrate",
                "run",
                "--sqlite",
                str(db),
                "--database-url",
                url,
                "--no-progress",
                "--json",
            ],
            env=env,
            stdout=out,
            stderr=err,
        )
        _, status, ru = os.wait4(proc.pid, 0)
        secs = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"mc-migrate failed: {err_path.read_text()}")
    report = json.loads(out_path.read_text())
    print(f"mc-migrate: {report['message']} ({report['seconds']}s)")
    print("  phases (s): " + ", ".join(f"{k}={v}" for k, v in report["phases"].items()))
    # client CPU (user+sys) of mc-migrate and its helper; the server's is not included
    return secs, ru.ru_maxrss / 1024, ru.ru_utime + ru.ru_stime


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def server_cpu(datadir: Path | None) -> float:
    """CPU seconds (user+sys) used so far by the throwaway cluster: the postmaster
    with its reaped children, plus its live children (backends, parallel workers,
    checkpointer...).  0 when the server is not ours (--database-url)."""
    if datadir is None:
        return 0.0
    try:
        pm = int((datadir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = 0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            st = (d / "stat").read_text()
        except OSError:
            continue
        f = st[st.rindex(")") + 2 :].split()
        if int(d.name) == pm:
            ticks += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
        elif int(f[1]) == pm:
            ticks += int(f[11]) + int(f[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _peak_rss_children() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


PGLOADER_TIMEOUT = 600  # seconds; pgloader has been seen to hang (0% CPU, no connection)


def run_pgloader(db: Path, url: str, workdir: Path) -> tuple[float | None, float]:
    """(seconds, client CPU seconds); seconds is None when pgloader hung and was killed."""
    info = conninfo_to_dict(url)
    pg = (
        f"postgresql://{info.get('user', 'postgres')}:{info.get('password', '')}@"
        f"{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/{info['dbname']}"
    )
    load = workdir / "load.pgl"
    load.write_text(f"""LOAD DATABASE
  FROM sqlite://{db}
  INTO {pg}
  WITH data only, prefetch rows = 10000, workers = 2, concurrency = 1
  INCLUDING ONLY TABLE NAMES LIKE 'users', 'tasks', 'sessions', 'oauth_states';
""")
    t0, c0 = time.monotonic(), _children_cpu()
    try:
        p = subprocess.run(
            ["pgloader", "--no-ssl-cert-verification", str(load)],
            capture_output=True,
            text=True,
            cwd=workdir,
            timeout=PGLOADER_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return None, _children_cpu() - c0
    secs = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"pgloader failed: {p.stdout[-2000:]}{p.stderr[-2000:]}")
    return secs, _children_cpu() - c0


def run_psql(db: Path, url: str, workdir: Path, bindir: Path) -> float:
    for t in TABLES:
        out = workdir / f"{t}.csv"
        if not out.exists():
            with out.open("w") as fh:
                subprocess.run(
                    ["sqlite3", "-csv", str(db), f"SELECT * FROM {t}"], stdout=fh, check=True
                )
    psql = str(bindir / "psql")
    lines = []
    # after_fk: drop secondary indexes and FKs, copy, rebuild
    with psycopg.connect(url, autocommit=True) as c:
        idx = c.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname='public' "
            "AND indexname LIKE 'idx_%'"
        ).fetchall()
        fks = c.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            "FROM pg_constraint WHERE contype='f'"
        ).fetchall()
        for t, n, _ in fks:
            c.execute(f"ALTER TABLE {t} DROP CONSTRAINT {n}")
        for n, _ in idx:
            c.execute(f"DROP INDEX {n}")
    for t in TABLES:
        lines.append(f"\\copy {t} FROM '{workdir / (t + '.csv')}' CSV")
    for _n, d in idx:
        lines.append(d + ";")
    for t, n, d in fks:
        lines.append(f"ALTER TABLE {t} ADD CONSTRAINT {n} {d};")
    for t in ("users", "tasks"):
        lines.append(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), max(id)) FROM {t};")
    script = workdir / "copy.sql"
    script.write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    subprocess.run(
        [psql, "-v", "ON_ERROR_STOP=1", "-q", "-1", "-f", str(script), url],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - t0


def one_round(
    args: argparse.Namespace,
    db: Path,
    counts: dict[str, int],
    target: Target,
    work: Path,
    bindir: Path,
    datadir: Path | None,
) -> tuple[list[tuple[str, float, str]], dict[str, float]]:
    """Time the engine, pgloader and psql once each, on fresh databases."""
    results: list[tuple[str, float, str]] = []
    cpu_total: dict[str, float] = {}
    url = target.fresh("bench_engine", schema=False)
    s0 = server_cpu(datadir)
    secs, rss, cpu = run_engine(db, url, work)
    srv = server_cpu(datadir) - s0
    assert target.counts(url) == counts, target.counts(url)
    note = f"peak RSS {rss:.0f} MB, CPU s client {cpu:.1f} + server {srv:.1f}"
    results.append(("mc-migrate run (load+verify)", secs, note))
    cpu_total["engine"] = cpu + srv
    if not args.skip_pgloader and shutil.which("pgloader"):
        url = target.fresh("bench_pgloader", schema=True)
        s0 = server_cpu(datadir)
        got, cpu = run_pgloader(db, url, work)
        srv = server_cpu(datadir) - s0
        if got is None:
            print(f"pgloader hung for {PGLOADER_TIMEOUT}s and was killed: no ratio this round")
        elif target.counts(url) != counts:
            # pgloader can exit 0 with rows missing (see the reference's pitfalls)
            print(f"pgloader exited after {got:.1f}s with wrong row counts: no ratio this round")
        else:
            note = f"CPU s client {cpu:.1f} + server {srv:.1f}"
            results.append(("pgloader (load only)", got, note))
            cpu_total["pgloader"] = cpu + srv
    if not args.skip_psql:
        url = target.fresh("bench_psql", schema=True)
        s0 = server_cpu(datadir)
        secs = run_psql(db, url, work, bindir)
        srv = server_cpu(datadir) - s0
        ok = target.counts(url) == counts
        note = f"CPU s server {srv:.1f}" + ("" if ok else ", ROW COUNTS WRONG")
        results.append(("psql \\copy CSV (after_fk)", secs, note))
    return results, cpu_total


def report(
    results: list[tuple[str, float, str]],
    cpu_total: dict[str, float],
    total: int,
    datadir: Path | None,
) -> None:
    ref = next((s for n, s, _ in results if n.startswith("pgloader")), None)
    print(f"\n{'method':<30} {'seconds':>8} {'rows/s':>10} {'vs pgloader':>12}  note")
    for name, secs, note in results:
        ratio = f"{secs / ref:.2f}x time" if ref else "-"
        print(f"{name:<30} {secs:8.2f} {total / secs:10,.0f} {ratio:>12}  {note}")
    if ref:
        eng = results[0][1]
        print(f"\nengine/pgloader time ratio: {eng / ref:.2f} (goal <= 0.50)")
    if datadir is not None and len(cpu_total) == 2:
        r = cpu_total["engine"] / cpu_total["pgloader"]
        print(f"engine/pgloader CPU-seconds ratio (client+server, robust to noise): {r:.2f}")
    if datadir is not None and "engine" in cpu_total:
        # client and server share this machine's cores: the engine's wall time
        # cannot be lower than its CPU seconds spread over all of them
        cores = os.cpu_count() or 1
        floor = cpu_total["engine"] / cores
        vs = f" = {floor / ref:.2f}x pgloader" if ref else ""
        print(f"engine floor here (its CPU-s / {cores} cores): {floor:.1f}s{vs}")
    psql = next((s for n, s, _ in results if n.startswith("psql")), None)
    if psql:
        print(f"engine/psql \\copy time ratio: {results[0][1] / psql:.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "bench"))
    ap.add_argument("--database-url", help="admin URL (default: start a throwaway cluster)")
    ap.add_argument("--skip-pgloader", action="store_true")
    ap.add_argument("--skip-psql", action="store_true")
    ap.add_argument("--runs", type=int, default=1, help="rounds of all methods, one table each")
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    db = cache / f"mc-seed{SEED}-scale{args.scale:g}.db"
    t0 = time.monotonic()
    counts = generate(db, args.scale)
    total = sum(counts.values())
    print(
        f"source: {db} ({db.stat().st_size / 1e6:.1f} MB, {total:,} rows; "
        f"ready in {time.monotonic() - t0:.1f}s, read into the page cache in {warm(db):.1f}s)"
    )
    server = None
    if args.database_url:
        admin = args.database_url
        bindir = Path(shutil.which("psql") or "/usr/bin/psql").parent
    else:
        server = PgServer.start(fast=False, ssl=False)
        with psycopg.connect(server.admin_dsn(), autocommit=True) as c:
            c.execute("ALTER ROLE postgres PASSWORD 'bench'")
        admin = server.url("postgres", "bench", "postgres")
        bindir = server.bindir
    datadir = server.base / "data" if server is not None else None
    work = cache / f"work-{db.stem}"
    work.mkdir(exist_ok=True)
    target = Target(admin)
    try:
        for n in range(1, args.runs + 1):
            if args.runs > 1:
                print(f"\n=== run {n} of {args.runs}")
            results, cpu_total = one_round(args, db, counts, target, work, bindir, datadir)
            report(results, cpu_total, total, datadir)
    finally:
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
