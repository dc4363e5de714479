from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from streamstash import names
from streamstash.config.parser import DateFilter as DateSettings
from streamstash.config.parser import FilterEntry
from streamstash.events import timeformats
from streamstash.events.timeformats import FormatError, format_iso8601, make_parser, zone_named
from streamstash.filters.date import DateFilter


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch):
    """Pin the clock yearless formats read; returns a setter for the pinned moment."""

    def pin(moment: datetime) -> None:
        monkeypatch.setattr(timeformats, "utc_now", lambda: moment)

    pin(datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    return pin


def parse(fmt: str, text: str, zone: str = "UTC") -> str | None:
    moment = make_parser(fmt, zone_named(zone))(text)
    return None if moment is None else format_iso8601(moment)


@pytest.mark.parametrize(
    ("fmt", "text", "zone", "expected"),
    [
        # syslog (RFC 3164): no year, day padded with a space
        ("MMM dd HH:mm:ss", "Nov 21 10:00:00", "UTC", "2026-11-21T10:00:00.000Z"),
        ("MMM  d HH:mm:ss", "Nov  5 10:00:00", "UTC", "2026-11-05T10:00:00.000Z"),
        ("MMM d HH:mm:ss", "Nov  5 10:00:00", "UTC", "2026-11-05T10:00:00.000Z"),
        ("MMM dd HH:mm:ss", "nov 21 10:00:00", "UTC", "2026-11-21T10:00:00.000Z"),
        ("MMM dd HH:mm:ss", "Jun 05 09:03:01", "Europe/Berlin", "2026-06-05T07:03:01.000Z"),
        ("MMM dd HH:mm:ss", "Nov 21 10:00:00", "Europe/Berlin", "2026-11-21T09:00:00.000Z"),
        # log4j: SSS reads exactly the three digits as milliseconds
        ("yyyy-MM-dd HH:mm:ss,SSS", "2026-11-21 10:00:00,123", "UTC", "2026-11-21T10:00:00.123Z"),
        ("yyyy-MM-dd HH:mm:ss,SSS", "2026-11-21 10:00:00,007", "UTC", "2026-11-21T10:00:00.007Z"),
        ("yyyy-MM-dd HH:mm:ss.SSSSSSSSS", "2026-11-21 10:00:00.123456789", "UTC", "2026-11-21T10:00:00.123Z"),
        ("dd/MMM/yyyy:HH:mm:ss Z", "04/Jan/2015:05:13:42 +0000", "UTC", "2015-01-04T05:13:42.000Z"),
        ("dd/MMM/yyyy:HH:mm:ss Z", "04/Jan/2015:06:13:42 +0100", "America/New_York", "2015-01-04T05:13:42.000Z"),
        ("HTTPDATE", "21/Nov/2026:10:00:00 -0500", "UTC", "2026-11-21T15:00:00.000Z"),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "2026-11-21T10:00:00.250+01:00", "UTC", "2026-11-21T09:00:00.250Z"),
        ("yyyy-MM-dd HH:mm:ss ZZZ", "2026-07-01 10:00:00 America/New_York", "UTC", "2026-07-01T14:00:00.000Z"),
        ("yyyyMMddHHmmss", "20261121100000", "UTC", "2026-11-21T10:00:00.000Z"),
        ("EEE MMM dd HH:mm:ss yyyy", "Sat Nov 21 10:00:00 2026", "UTC", "2026-11-21T10:00:00.000Z"),
        ("EEEE, dd MMMM yyyy", "Saturday, 21 November 2026", "UTC", "2026-11-21T00:00:00.000Z"),
        ("dd/MM/yy hh:mm a", "21/11/26 01:30 PM", "UTC", "2026-11-21T13:30:00.000Z"),
        ("dd/MM/yy hh:mm a", "21/11/26 12:05 AM", "UTC", "2026-11-21T00:05:00.000Z"),
        ("yyyy.DDD", "2026.325", "UTC", "2026-11-21T00:00:00.000Z"),
        ("yyyy-MM-dd HH:mm:ss", "2026-03-29 02:30:00", "+02:00", "2026-03-29T00:30:00.000Z"),
        # Python strptime formats: any format with a `%`
        ("%d/%b/%Y:%H:%M:%S %z", "04/Jan/2015:05:13:42 +0100", "UTC", "2015-01-04T04:13:42.000Z"),
        ("%Y-%m-%d %H:%M:%S.%f", "2026-11-21 10:00:00.123456", "Europe/Berlin", "2026-11-21T09:00:00.123Z"),
        ("%b %d %H:%M:%S", "Nov 21 10:00:00", "UTC", "2026-11-21T10:00:00.000Z"),
        # named formats
        ("ISO8601", "2026-11-21T10:00:00.123Z", "UTC", "2026-11-21T10:00:00.123Z"),
        ("ISO8601", "2026-11-21T11:00:00,5+01:00", "UTC", "2026-11-21T10:00:00.500Z"),
        ("ISO8601", "2026-11-21 10:00:00", "Europe/Berlin", "2026-11-21T09:00:00.000Z"),
        ("ISO8601", "2026-11-21", "UTC", "2026-11-21T00:00:00.000Z"),
        ("UNIX", "1420348422", "UTC", "2015-01-04T05:13:42.000Z"),
        ("UNIX", "1326149001.132", "UTC", "2012-01-09T22:43:21.132Z"),
        ("UNIX", "-1.5", "UTC", "1969-12-31T23:59:58.500Z"),
        ("UNIX_MS", "1366125117123", "UTC", "2013-04-16T15:11:57.123Z"),
        # Logstash's own example: TAI64N counts from 2**62 and is 10 s ahead of UTC
        ("TAI64N", "@4000000050d506482dbdf024", "UTC", "2012-12-22T01:00:46.767Z"),
        ("TAI64N", "4000000050d506482dbdf024", "UTC", "2012-12-22T01:00:46.767Z"),
    ],
)
def test_formats(clock: Any, fmt: str, text: str, zone: str, expected: str) -> None:
    assert parse(fmt, text, zone) == expected


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("MMM dd HH:mm:ss", "Nov 21 10:00:00 trailing"),  # the whole text must match
        ("MMM dd HH:mm:ss", "Foo 21 10:00:00"),
        ("yyyy-MM-dd HH:mm:ss", "2026-02-30 10:00:00"),
        ("yyyy-MM-dd HH:mm:ss", "2026-11-21T10:00:00"),
        ("EEE MMM dd yyyy", "Xyz Nov 21 2026"),
        ("yyyy-MM-dd HH:mm:ss ZZZ", "2026-11-21 10:00:00 Mars/Olympus"),
        ("%Y-%m-%d", "21.11.2026"),
        ("UNIX", "1_000"),
        ("UNIX", "soon"),
        ("UNIX", "1e9"),
        ("UNIX_MS", "99999999999999999999"),
        ("TAI64N", "@40000000"),
        ("ISO8601", "yesterday"),
    ],
)
def test_text_that_does_not_fit_is_none(clock: Any, fmt: str, text: str) -> None:
    assert parse(fmt, text) is None


def test_yearless_stamps_take_the_current_year_except_across_new_year(clock: Any) -> None:
    clock(datetime(2027, 1, 1, 0, 5, tzinfo=UTC))
    assert parse("MMM dd HH:mm:ss", "Dec 31 23:59:59") == "2026-12-31T23:59:59.000Z"
    assert parse("MMM dd HH:mm:ss", "Jan 01 00:04:00") == "2027-01-01T00:04:00.000Z"
    clock(datetime(2026, 12, 31, 23, 59, tzinfo=UTC))
    assert parse("MMM dd HH:mm:ss", "Jan 01 00:00:01") == "2027-01-01T00:00:01.000Z"
    assert parse("%b %d %H:%M:%S", "Jan 01 00:00:01") == "2027-01-01T00:00:01.000Z"
    clock(datetime(2028, 6, 1, tzinfo=UTC))
    assert parse("MMM dd HH:mm:ss", "Feb 29 10:00:00") == "2028-02-29T10:00:00.000Z"
    assert parse("%b %d %H:%M:%S", "Feb 29 10:00:00") == "2028-02-29T10:00:00.000Z"
    clock(datetime(2027, 6, 1, tzinfo=UTC))
    assert parse("MMM dd HH:mm:ss", "Feb 29 10:00:00") is None


def test_two_digit_years_pivot_around_now(clock: Any) -> None:
    assert parse("dd.MM.yy", "21.11.26") == "2026-11-21T00:00:00.000Z"
    assert parse("dd.MM.yy", "01.01.80") == "1980-01-01T00:00:00.000Z"


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [
        ("yyyy-MM-dd HH:mm:ss z", "cannot be parsed"),
        ("yyyy-MM-dd Q", "unknown pattern letter 'Q'"),
        ("yyyy-MM-dd 'T", "unclosed quote"),
        ("%Y-%Q", "not a valid strptime format"),
        ("---", "no date or time field"),
    ],
)
def test_unusable_formats_fail_when_loaded(fmt: str, problem: str) -> None:
    with pytest.raises(FormatError, match=problem):
        make_parser(fmt, UTC)
    with pytest.raises(ValidationError, match=problem):
        FilterEntry.model_validate({"date": {"match": ["t", fmt]}})


def test_unknown_timezone_fails_when_loaded() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        FilterEntry.model_validate({"date": {"match": ["t", "ISO8601"], "timezone": "Mars/Olympus"}})


def run(doc: dict[str, Any], **settings: Any) -> dict[str, Any]:
    doc.setdefault("tags", [])
    assert DateFilter(DateSettings(**settings)).apply(doc) is None
    return doc


def test_first_matching_format_sets_the_timestamp() -> None:
    doc = run({"t": "2026-11-21 10:00:00,123"}, match=["t", "ISO8601", "yyyy-MM-dd HH:mm:ss,SSS"])
    assert doc == {"t": "2026-11-21 10:00:00,123", "tags": [], "@timestamp": "2026-11-21T10:00:00.123Z"}


def test_target_timezone_and_nested_source() -> None:
    doc = run(
        {"log": {"when": "2026-11-21 10:00:00"}},
        match=["[log][when]", "yyyy-MM-dd HH:mm:ss"],
        target="[event][created]",
        timezone="Europe/Berlin",
    )
    assert doc["event"] == {"created": "2026-11-21T09:00:00.000Z"} and "@timestamp" not in doc


def test_failure_tags_and_keeps_the_timestamp() -> None:
    doc = run({"t": "not a date", "@timestamp": "2000-01-01T00:00:00.000Z"}, match=["t", "ISO8601", "UNIX"])
    assert doc["tags"] == [names.TAG_DATE_FAILURE] and doc["@timestamp"] == "2000-01-01T00:00:00.000Z"
    doc = run({"t": "x"}, match=["t", "ISO8601"], tag_on_failure=["bad_date"])
    assert doc["tags"] == ["bad_date"]


def test_absent_field_is_left_alone() -> None:
    assert run({"other": 1}, match=["t", "ISO8601"]) == {"other": 1, "tags": []}


def test_numbers_and_lists() -> None:
    assert run({"t": 1420348422}, match=["t", "UNIX"])["@timestamp"] == "2015-01-04T05:13:42.000Z"
    assert run({"t": 1420348422.5}, match=["t", "UNIX"])["@timestamp"] == "2015-01-04T05:13:42.500Z"
    assert run({"t": ["1420348422", "0"]}, match=["t", "UNIX"])["@timestamp"] == "2015-01-04T05:13:42.000Z"


def test_decorations_apply_only_on_success() -> None:
    settings = {"match": ["t", "ISO8601"], "remove_field": ["t"], "add_tag": ["dated"]}
    assert run({"t": "2026-11-21T10:00:00Z"}, **settings) == {
        "tags": ["dated"],
        "@timestamp": "2026-11-21T10:00:00.000Z",
    }
    assert run({"t": "nope"}, **settings) == {"t": "nope", "tags": [names.TAG_DATE_FAILURE]}
