"""Releases that die or sicken seconds after they start are never recorded
healthy nor left live.

Runs after test_app.py, with v1 live on both droplets. Each case is deployed
three times, a fresh artifact each time (build-releases.sh), under constant
load on the droplet's loopback. The gate and its soak must refuse the cases
that misbehave wherever they run (crash at start, 1.5 s and 8 s in, health 500
after 3 s), before anything live is touched: no request may fail. The pm2-*
cases misbehave only under PM2, so no timing lets the gate see them: the watch
after the switch must roll each one back; the requests lost before it did are
counted and printed (conftest.py's table). Two cases run at once, one on each
droplet (Debian 12 and 13), each deploy limited to its droplet.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from story import (
    BAD_RELEASE_RESULTS,
    CONTAINER,
    DEPLOY_TO,
    EPHEMERAL,
    STORY_HOSTS,
    Load,
    current,
    deploy_artifact,
    droplet,
    get,
    playbook,
    pm2_workers,
    records,
)

testinfra_hosts = STORY_HOSTS

GATE = "health gate"
WATCH = "watch after the switch"
STAGE = {
    "crash-at-start": GATE,
    "crash-after-1.5s": GATE,
    "crash-after-8s": GATE,
    "health-500-after-3s": GATE,
    "pm2-crash-after-1.5s": WATCH,
    "pm2-health-500-after-3s": WATCH,
}
# (on Debian 12, on Debian 13): each droplet sees gate and watch cases.
PAIRS = [
    ("crash-at-start", "pm2-crash-after-1.5s"),
    ("pm2-health-500-after-3s", "crash-after-1.5s"),
    ("crash-after-8s", "health-500-after-3s"),
]
OTHER_DROPLET = "mc-app-debian13"
BAD_VERSION = "9.0.0"


def deploy_three_times(name: str, case: str) -> dict:
    """Three deploys of the case to one droplet under load; what was seen."""
    host = droplet(name)
    before = current(host)
    live_version = get(host, "/api/health")["version"]
    assert records(host)[before]["status"] == "healthy"
    load = Load(host, f"load-{case}")
    runs, live_after = [], []
    try:
        for n in (1, 2, 3):
            runs.append(deploy_artifact(EPHEMERAL / "bad" / f"{case}-{n}.tar.gz", "-l", name))
            live_after.append(current(host))
    finally:
        stats = load.stop()
    return {
        "droplet": name,
        "host": host,
        "before": before,
        "live_version": live_version,
        "runs": runs,
        "live_after": live_after,
        "stats": stats,
    }


def check_case(case: str, seen: dict) -> None:
    host, before, stats, stage = seen["host"], seen["before"], seen["stats"], STAGE[case]
    for run, text in seen["runs"]:
        assert run.returncode != 0, text[-3000:]
        assert f"failed at the {stage} stage" in text, text[-3000:]
        assert "is marked failed" in text, text[-3000:]
    # After every attempt, not only the last: the live release is back.
    assert seen["live_after"] == [before] * 3
    mine = [r for r in records(host).values() if f"/bad/{case}-" in r["ref"]]
    assert len(mine) == 3
    assert {(r["status"], r["failed_stage"]) for r in mine} == {("failed", stage)}
    assert all("proven_at" not in r for r in mine)
    health = get(host, "/api/health")
    assert health["release"] == before and health["version"] == seen["live_version"]
    workers = pm2_workers(host)
    assert len(workers) == 2 and {w["pm2_env"]["status"] for w in workers} == {"online"}
    assert stats["ok"] > 100, stats
    if stage == GATE:
        # Refused before anything live was touched: not one request lost.
        assert stats["failed"] == 0, stats
        assert set(stats["versions"]) == {seen["live_version"]}, stats
    else:
        # It did go live (the gate could not see it), and was taken back.
        assert stats["versions"].get(BAD_VERSION, 0) > 0, stats


@pytest.mark.parametrize(("on_debian12", "on_debian13"), PAIRS)
def test_bad_releases_are_refused_or_rolled_back(on_debian12, on_debian13):
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(deploy_three_times, CONTAINER, on_debian12)
        second = pool.submit(deploy_three_times, OTHER_DROPLET, on_debian13)
        seen = {on_debian12: first.result(), on_debian13: second.result()}
    for case, result in seen.items():
        stats = result["stats"]
        BAD_RELEASE_RESULTS.append(
            {
                "case": case,
                "droplet": result["droplet"],
                "stage": STAGE[case],
                "requests": stats["ok"] + stats["failed"],
                "failed": stats["failed"],
                "bad_answers": stats["versions"].get(BAD_VERSION, 0),
            }
        )
    for case, result in seen.items():
        check_case(case, result)


def test_a_release_healthy_before_the_soak_must_pass_it_again(host):
    """A record marked healthy by the old one-answer gate (no proven_at) is
    gated again as a rollback target; failing, it is marked failed."""
    before = current(host)
    crasher = max(r["id"] for r in records(host).values() if "/bad/crash-at-start-" in r["ref"])
    legacy = {
        k: v
        for k, v in records(host)[crasher].items()
        if k not in ("failed_at", "error", "failed_stage")
    }
    legacy.update(status="healthy", activated_at=legacy["created_at"])
    host.check_output(
        "printf '%%s\\n' %s > %s/releases/%s/RELEASE.json", json.dumps(legacy), DEPLOY_TO, crasher
    )
    listing = playbook("rollback.yml", "-e", "app_rollback_list=true", "-l", CONTAINER)
    assert listing.returncode == 0, listing.stdout[-3000:]
    assert "not proven" in " ".join(listing.stdout.split())
    load = Load(host, "load-legacy")
    run = playbook("rollback.yml", "-e", f"app_rollback_to={crasher}", "-l", CONTAINER)
    stats = load.stop()
    text = " ".join(run.stdout.split())
    assert run.returncode != 0, text[-3000:]
    assert "ROLLBACK FAILED at the health gate stage" in text, text[-3000:]
    assert records(host)[crasher]["status"] == "failed"
    assert current(host) == before
    assert stats["failed"] == 0 and stats["ok"] > 50, stats
