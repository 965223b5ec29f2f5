"""Every conversion rule, and that the rendering is exactly PostgreSQL's text output."""

from __future__ import annotations

import psycopg
import pytest

from mc_migrate.convert import (
    NULL,
    ValueProblem,
    canonical_json,
    copy_line,
    make_converter,
)
from mc_migrate.target import TargetColumn


def col(base: str, typmod: int = -1, notnull: bool = False) -> TargetColumn:
    return TargetColumn("c", base, base, typmod, notnull, False)


TS = make_converter(col("timestamp"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-02 03:04:05", "2024-01-02 03:04:05"),
        ("2024-01-02 03:04:05.120", "2024-01-02 03:04:05.12"),
        ("2024-01-02 03:04:05.000", "2024-01-02 03:04:05"),
        ("2024-01-02 03:04:05.1234567", "2024-01-02 03:04:05.123457"),
        ("2024-01-02T03:04:05", "2024-01-02 03:04:05"),
        ("2024-01-02T03:04:05Z", "2024-01-02 03:04:05"),
        ("2024-01-02T03:04:05.5+02:00", "2024-01-02 01:04:05.5"),
        ("2024-01-02T23:30:00-0130", "2024-01-03 01:00:00"),
        ("2024-01-02", "2024-01-02 00:00:00"),
        ("2024-01-02 03:04", "2024-01-02 03:04:00"),
        (1700000000, "2023-11-14 22:13:20"),
        (1700000000.25, "2023-11-14 22:13:20.25"),
        (1700000000123, "2023-11-14 22:13:20.123"),
        ("1700000000", "2023-11-14 22:13:20"),
        (0, "1970-01-01 00:00:00"),
    ],
)
def test_timestamp_forms(value: object, expected: str) -> None:
    assert TS(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2024-13-01 00:00:00",
        "2024-02-30",
        "2024-01-02 25:00:00",
        "",
        b"\x00",
        float("nan"),
    ],
)
def test_timestamp_rejects(value: object) -> None:
    with pytest.raises(ValueProblem) as ei:
        TS(value)
    assert ei.value.cls == "bad_timestamp"


def test_timestamptz_is_utc() -> None:
    conv = make_converter(col("timestamptz"))
    assert conv("2024-01-02T03:04:05+01:00") == "2024-01-02 02:04:05+00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"b": 1, "a": 2}', '{"a": 2, "b": 1}'),
        ('{"bb": 1, "a": 2, "ab": 3}', '{"a": 2, "ab": 3, "bb": 1}'),
        ('{"a": 1, "a": 2}', '{"a": 2}'),
        (
            "[1.0, 1e3, -0, 1.5E-2, -0.0, 12345678901234567890, 1.50e1]",
            "[1.0, 1000, 0, 0.015, 0.0, 12345678901234567890, 15.0]",
        ),
        ('  {"x":[],"y":{}}  ', '{"x": [], "y": {}}'),
        ('"tab\\t \\u00e9 \\/ \\u001f"', '"tab\\t é / \\u001f"'),
        ("true", "true"),
        ("null", "null"),
        ('{"é": 1, "z": 2}', '{"z": 2, "é": 1}'),
    ],
)
def test_json_canonical(text: str, expected: str) -> None:
    assert canonical_json(text) == expected


@pytest.mark.parametrize(
    "text", ['{"a": "\\u0000"}', "{bad}", "NaN", "[Infinity]", '"\\ud800"', "", "[1,]"]
)
def test_json_rejects(text: str) -> None:
    conv = make_converter(col("jsonb"))
    with pytest.raises(ValueProblem) as ei:
        conv(text)
    assert ei.value.cls == "bad_json"


def test_json_matches_postgres(db_url: str) -> None:
    samples = [
        '{"b": 1, "a": [1.0, 1e3, -0, 2.50, 1E-7], "ccc": {"zz": null, "y": true}}',
        '{"é": "ü", "e": "\\n\\t\\"q\\" \\\\ \\u001f \\u007f", "aa": 1e20}',
        '[{"k": 1, "k": 2}, -1.5e-3, 0.000, 123456789012345678901234567890.5]',
        '"just a string"',
        "42",
        "[]",
        "{}",
    ]
    with psycopg.connect(db_url) as conn:
        for s in samples:
            got = conn.execute("SELECT %s::jsonb::text", (s,)).fetchone()[0]
            assert canonical_json(s) == got, s


def test_timestamps_match_postgres(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute("SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'")
        for s in ["2024-01-02T03:04:05.123456Z", "1999-12-31 23:59:59.9", "0999-01-01 00:00:00"]:
            got = conn.execute("SELECT %s::timestamptz::timestamp::text", (s,)).fetchone()[0]
            assert TS(s) == got


@pytest.mark.parametrize(
    ("value", "expected"), [(5, "5"), (5.0, "5"), ("12", "12"), (" -7 ", "-7"), ("3.0", "3")]
)
def test_integer(value: object, expected: str) -> None:
    assert make_converter(col("int4"))(value) == expected


@pytest.mark.parametrize("value", [1.5, "1.5", "abc", 2**31, b"1"])
def test_integer_rejects(value: object) -> None:
    with pytest.raises(ValueProblem) as ei:
        make_converter(col("int4"))(value)
    assert ei.value.cls == "bad_integer"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, "t"), (0, "f"), ("true", "t"), ("F", "f"), ("yes", "t"), ("off", "f")],
)
def test_boolean(value: object, expected: str) -> None:
    assert make_converter(col("bool"))(value) == expected


def test_boolean_rejects() -> None:
    with pytest.raises(ValueProblem) as ei:
        make_converter(col("bool"))(2)
    assert ei.value.cls == "bad_boolean"


def test_varchar_length() -> None:
    conv = make_converter(col("varchar", typmod=5 + 4))
    assert conv("héllo") == "héllo"
    assert conv(12) == "12"
    with pytest.raises(ValueProblem) as ei:
        conv("toolong")
    assert ei.value.cls == "too_long"


def test_null_stays_null_and_not_null() -> None:
    assert make_converter(col("jsonb"))(None) is NULL
    with pytest.raises(ValueProblem) as ei:
        make_converter(col("text", notnull=True))(None)
    assert ei.value.cls == "not_null"


def test_copy_escaping() -> None:
    assert copy_line(["a\tb", "c\nd\re\\f", NULL, "\b\f\v"]) == (
        "a\\tb\tc\\nd\\re\\\\f\t\\N\t\\b\\f\\v"
    )
