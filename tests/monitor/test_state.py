"""Which results alert (a pure function of the previous state), and the state file."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

from mc_monitor.clock import parse_iso
from mc_monitor.model import Alert, Result
from mc_monitor.state import StateFile, failing, transitions

T0 = parse_iso("2025-03-03T10:00:00Z")


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def ok(name: str = "app_direct") -> Result:
    return Result(name, True, "200 in 3 ms", 3)


def bad(name: str = "app_direct") -> Result:
    return Result(name, False, "502 in 12 ms", 12)


def states(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.check, a.state) for a in alerts]


def test_the_first_round_alerts_only_for_what_fails() -> None:
    state, alerts = transitions({}, [ok("memory"), bad("app_direct")], T0, 0)
    assert alerts == [Alert("app_direct", "failing", "502 in 12 ms", "2025-03-03T10:00:00Z")]
    assert state == {
        "round": "2025-03-03T10:00:00Z",
        "checks": {
            "memory": {
                "ok": True,
                "since": "2025-03-03T10:00:00Z",
                "summary": "200 in 3 ms",
                "checked": "2025-03-03T10:00:00Z",
                "last_alert": None,
                "value": 3,
            },
            "app_direct": {
                "ok": False,
                "since": "2025-03-03T10:00:00Z",
                "summary": "502 in 12 ms",
                "checked": "2025-03-03T10:00:00Z",
                "last_alert": "2025-03-03T10:00:00Z",
                "value": 12,
            },
        },
    }


def test_a_change_alerts_once_and_a_state_that_holds_is_silent() -> None:
    state, alerts = transitions({}, [ok()], at(0), 0)
    assert alerts == []
    state, alerts = transitions(state, [bad()], at(1), 0)
    assert states(alerts) == [("app_direct", "failing")]
    for minute in (2, 3, 60, 600):
        state, alerts = transitions(state, [bad()], at(minute), 0)
        assert alerts == []
    assert state["checks"]["app_direct"]["since"] == "2025-03-03T10:01:00Z"
    assert state["checks"]["app_direct"]["checked"] == "2025-03-03T20:00:00Z"
    state, alerts = transitions(state, [ok()], at(601), 0)
    assert alerts == [Alert("app_direct", "recovered", "200 in 3 ms", "2025-03-03T20:01:00Z")]
    state, alerts = transitions(state, [ok()], at(602), 0)
    assert alerts == []
    assert state["checks"]["app_direct"]["since"] == "2025-03-03T20:01:00Z"


def test_a_failure_that_holds_repeats_every_repeat_minutes() -> None:
    state, alerts = transitions({}, [bad()], at(0), 5)
    assert states(alerts) == [("app_direct", "failing")]
    found = []
    for minute in range(1, 16):
        state, alerts = transitions(state, [bad()], at(minute), 5)
        found += [(minute, a.state) for a in alerts]
    assert found == [(5, "still failing"), (10, "still failing"), (15, "still failing")]
    assert state["checks"]["app_direct"]["since"] == "2025-03-03T10:00:00Z"
    assert state["checks"]["app_direct"]["last_alert"] == "2025-03-03T10:15:00Z"


def test_checks_no_longer_configured_are_dropped_silently() -> None:
    state, _ = transitions({}, [bad("reboot"), ok("memory")], at(0), 0)
    state, alerts = transitions(state, [ok("memory")], at(1), 0)
    assert alerts == [] and list(state["checks"]) == ["memory"]


def test_a_damaged_previous_state_is_a_first_round() -> None:
    for previous in ({"checks": []}, {"checks": {"app_direct": "x"}}, {"checks": {"x": {}}}):
        _, alerts = transitions(previous, [bad(), ok("memory")], at(0), 5)
        assert states(alerts) == [("app_direct", "failing")]
    previous = {"checks": {"app_direct": {"ok": False, "since": "garbage", "last_alert": 7}}}
    state, alerts = transitions(previous, [bad()], at(0), 5)
    assert alerts == [] and state["checks"]["app_direct"]["since"] == "2025-03-03T10:00:00Z"


def test_failing_lists_what_is_not_ok() -> None:
    state, _ = transitions({}, [ok("memory"), bad("units"), bad()], at(0), 0)
    assert failing(state) == ["units", "app_direct"]
    assert failing({}) == []


def test_the_state_file_is_replaced_whole_and_readable_by_all(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "state.json")
    assert store.load() == {}
    state, _ = transitions({}, [ok("memory"), bad()], at(0), 0)
    store.save(state)
    assert store.load() == state
    assert list(json.loads(store.path.read_text())["checks"]) == ["memory", "app_direct"]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left
    store.path.write_text("{ half")
    assert store.load() == {}
