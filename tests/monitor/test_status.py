"""The screen `mc-monitor status` prints from the state file."""

from __future__ import annotations

from mc_monitor.status import status_table

STATE = {
    "round": "2025-03-03T10:05:00Z",
    "checks": {
        "app_direct": {
            "ok": False,
            "since": "2025-03-03T10:01:00Z",
            "summary": "502 in 12 ms",
            "checked": "2025-03-03T10:05:00Z",
            "last_alert": "2025-03-03T10:01:00Z",
            "value": 12,
        },
        "disk:/": {
            "ok": True,
            "since": "2025-03-01T00:00:00Z",
            "summary": "/ 45 % used (max 90 %), inodes 3 % (max 90 %)",
            "checked": "2025-03-03T10:05:00Z",
            "last_alert": None,
            "value": 44.2,
        },
    },
}


def test_the_table() -> None:
    assert status_table(STATE).splitlines() == [
        "1 failing",
        "last round 2025-03-03T10:05:00Z",
        "",
        "check       state    since                 summary"
        "                                        checked",
        "----------  -------  --------------------  ---------------------------------------------"
        "  --------------------",
        "app_direct  FAILING  2025-03-03T10:01:00Z  502 in 12 ms"
        "                                   2025-03-03T10:05:00Z",
        "disk:/      ok       2025-03-01T00:00:00Z  / 45 % used (max 90 %), inodes 3 % (max 90 %)"
        "  2025-03-03T10:05:00Z",
    ]


def test_all_ok_and_never_run() -> None:
    ok = {"round": "x", "checks": {"memory": {"ok": True, "summary": "5 % used (max 90 %)"}}}
    assert status_table(ok).splitlines()[0] == "all ok"
    assert "memory  ok     -      5 % used (max 90 %)  -" in status_table(ok)
    assert status_table({}) == "never run: no round has finished yet"
    assert status_table({"checks": {}}) == "never run: no round has finished yet"
