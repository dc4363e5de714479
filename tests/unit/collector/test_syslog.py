from __future__ import annotations

import pytest

from streamstash import names
from streamstash.services.collector.syslog import parse_syslog


def test_rfc3164_line_from_the_rfc() -> None:
    parsed = parse_syslog("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8")
    assert parsed is not None
    assert parsed.message == "'su root' failed for lonvick on /dev/pts/8"
    assert parsed.fields[names.FIELD_SYSLOG] == {
        "priority": 34,
        "facility": 4,
        "facility_name": "auth",
        "severity": 2,
        "severity_name": "crit",
        "timestamp": "Oct 11 22:14:15",
        "host": "mymachine",
        "program": "su",
    }
    assert parsed.tags == [] and parsed.timestamp is None  # no year, no zone: left to a date filter


def test_rfc3164_with_pid_and_space_padded_day() -> None:
    parsed = parse_syslog("<13>Feb  5 17:32:18 10.0.0.99 sshd[4242]: Accepted publickey for bob")
    header = parsed.fields[names.FIELD_SYSLOG]
    assert (header["timestamp"], header["host"], header["program"], header["pid"]) == (
        "Feb  5 17:32:18",
        "10.0.0.99",
        "sshd",
        "4242",
    )
    assert parsed.message == "Accepted publickey for bob"


def test_rfc3164_without_host() -> None:
    parsed = parse_syslog("<13>Feb  5 17:32:18 sshd[42]: hello")
    header = parsed.fields[names.FIELD_SYSLOG]
    assert "host" not in header and header["program"] == "sshd" and header["pid"] == "42"


def test_rfc3339_timestamp_in_a_bsd_line_sets_the_event_time() -> None:
    parsed = parse_syslog("<14>2024-03-01T10:00:00.250+01:00 web01 nginx[7]: GET /")
    assert parsed.timestamp == "2024-03-01T09:00:00.250Z"
    assert parsed.fields[names.FIELD_SYSLOG]["host"] == "web01"


def test_rfc5424_with_structured_data_and_bom() -> None:
    parsed = parse_syslog(
        "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
        '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
        '[examplePriority@32473 class="high"] \ufeffAn application event log entry...'
    )
    assert parsed.message == "An application event log entry..."
    assert parsed.timestamp == "2003-10-11T22:14:15.003Z"
    assert parsed.fields[names.FIELD_SYSLOG] == {
        "priority": 165,
        "facility": 20,
        "facility_name": "local4",
        "severity": 5,
        "severity_name": "notice",
        "version": 1,
        "timestamp": "2003-10-11T22:14:15.003Z",
        "host": "mymachine.example.com",
        "program": "evntslog",
        "msgid": "ID47",
        "structured_data": {
            "exampleSDID@32473": {"iut": "3", "eventSource": "Application", "eventID": "1011"},
            "examplePriority@32473": {"class": "high"},
        },
    }


def test_rfc5424_nil_values_offset_timestamp_and_escaped_parameters() -> None:
    parsed = parse_syslog(r'<86>1 2003-08-24T05:14:15.000003-07:00 - su 8710 - [meta q="a \"b\" \] c\\"] done')
    header = parsed.fields[names.FIELD_SYSLOG]
    assert parsed.timestamp == "2003-08-24T12:14:15.000Z"
    assert "host" not in header and "msgid" not in header and header["pid"] == "8710"
    assert header["structured_data"] == {"meta": {"q": 'a "b" ] c\\'}}
    assert parsed.message == "done"


def test_rfc5424_without_message() -> None:
    parsed = parse_syslog("<0>1 - - - - - -")
    assert parsed.message == ""
    assert parsed.fields[names.FIELD_SYSLOG]["severity_name"] == "emerg"


def test_broken_structured_data_is_tagged_and_kept() -> None:
    parsed = parse_syslog('<13>1 2003-10-11T22:14:15Z h app 1 m [id k="unterminated')
    assert parsed.tags == [names.TAG_SYSLOG_PARSE_FAILURE]
    assert parsed.message == '[id k="unterminated'


@pytest.mark.parametrize("line", ["<999>Oct 11 22:14:15 host app: x", "<192>x", "<012>x", "<99999>x"])
def test_bogus_priority_is_tagged_and_the_line_kept_whole(line: str) -> None:
    parsed = parse_syslog(line)
    assert parsed.message == line
    assert parsed.tags == [names.TAG_SYSLOG_INVALID_PRIORITY]
    assert parsed.fields == {}


@pytest.mark.parametrize("line", ["plain text", "", "<notapri>", "127.0.0.1 - - [x] GET /"])
def test_lines_without_a_priority_are_not_syslog(line: str) -> None:
    assert parse_syslog(line) is None


def test_priority_only_line_keeps_facility_and_severity() -> None:
    parsed = parse_syslog("<191>just text")
    assert parsed.message == "just text"
    assert parsed.fields[names.FIELD_SYSLOG]["facility_name"] == "local7"
    assert parsed.fields[names.FIELD_SYSLOG]["severity_name"] == "debug"
