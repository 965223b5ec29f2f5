#!/usr/bin/env python3
"""Benchmark: backup and restore drill of the 1,000,000-task reference database.

Uses the containers of the `backup` Molecule scenario (droplet, managed-database
stand-in, SFTP restic target): run `molecule converge -s backup` first (or pass
--converge). Generates the reference SQLite database with the migration
benchmark's deterministic generator (bench/migration.py, cached in
.cache/bench), loads it into the stand-in with mc-migrate, then times on the
droplet, through the real units and program:

* the backup (`systemctl start mc-backup@bench.service`): pg_dump seconds,
  dump size, offsite (restic over SFTP) seconds;
* the restore drill from the local copy and from the offsite copy: restore
  seconds (pg_restore into a scratch database) and the whole drill.

Prints the figures; the recovery point is the backup interval (hourly) plus
the backup's own duration, the recovery time the drill's restore time.
Usage: python bench/backup.py [--scale 1] [--converge]. Not part of CI.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DROPLET, DB = "mc-backup-debian12", "mc-backup-db"


def sh(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, check=check, capture_output=True, text=True).stdout


def on_droplet(cmd: str) -> str:
    return sh("docker", "exec", DROPLET, "sh", "-c", cmd)


def load_generator():
    spec = importlib.util.spec_from_file_location(
        "bench_migration", ROOT / "bench" / "migration.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--cache", default=str(ROOT / ".cache" / "bench"))
    ap.add_argument("--converge", action="store_true", help="run molecule converge -s backup first")
    args = ap.parse_args()
    if args.converge:
        subprocess.run(["molecule", "converge", "-s", "backup"], cwd=ROOT, check=True)
    ephemeral = sorted(glob.glob(str(Path.home() / ".ansible/tmp/molecule.*.backup")))
    if not ephemeral or DROPLET not in sh("docker", "ps", "--format", "{{.Names}}"):
        print("the backup scenario is not converged: molecule converge -s backup", file=sys.stderr)
        return 2
    password = Path(ephemeral[-1], "db-password").read_text().strip()
    ip = sh(
        "docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", DB
    ).strip()

    gen = load_generator()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    sqlite = cache / f"mc-seed{gen.SEED}-scale{args.scale:g}.db"
    counts = gen.generate(sqlite, args.scale)
    print(f"source: {sqlite.name}, {sum(counts.values()):,} rows ({counts})")

    # load into the stand-in (TLS, certificate not checked: the controller uses the IP)
    url = f"postgresql://mission_control:{password}@{ip}:25060/mission_control_production?sslmode=require"
    on_droplet(
        "runuser -u mc-backup -- psql service=mission_control -q -c "
        "'DROP TABLE IF EXISTS bulk, oauth_states, sessions, tasks, users, mc_schema_version "
        "CASCADE'"
    )
    t0 = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mc_migrate",
            "run",
            "--sqlite",
            str(sqlite),
            "--database-url",
            url,
            "--no-progress",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    print(f"loaded in {time.monotonic() - t0:.1f} s")
    size_db = on_droplet(
        "runuser -u mc-backup -- psql service=mission_control -At -c "
        "'SELECT pg_size_pretty(pg_database_size(current_database()))'"
    ).strip()

    t0 = time.monotonic()
    on_droplet("systemctl start mc-backup@bench.service")
    wall = time.monotonic() - t0
    st = json.loads(on_droplet("runuser -u mc-backup -- mc-backup --json status"))["last_success"]
    drills = {}
    for source in ("local", "offsite"):
        drills[source] = json.loads(
            on_droplet(f"runuser -u mc-backup -- mc-backup --json drill --from {source}")
        )
    rows = [
        ("database size", size_db),
        ("rows in manifest", f"{st['rows']:,}"),
        ("backup: pg_dump + manifest", f"{st['dump_seconds']:.1f} s"),
        ("backup: dump size", f"{st['size'] / 1e6:.1f} MB"),
        ("backup: offsite (restic/sftp)", f"{st.get('offsite_seconds', 0):.1f} s"),
        ("backup: unit wall time", f"{wall:.1f} s (incl. retention/prune)"),
    ]
    for source, d in drills.items():
        rows.append(
            (f"drill from {source}: restore", f"{d['restore_seconds']:.1f} s ({d['result']})")
        )
        rows.append((f"drill from {source}: total", f"{d['duration_seconds']:.1f} s"))
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(
        "recovery point: <= 1 h (hourly timer) + "
        f"{st['dump_seconds'] + st.get('offsite_seconds', 0):.0f} s;"
        f" recovery time (restore from offsite): {drills['offsite']['duration_seconds']:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
