"""Recognising syslog lines (RFC 5424 and the BSD format of RFC 3164) and keeping their header as fields.

The message becomes the syslog MSG part; the header goes under ``fields["syslog"]``:
``priority``, ``facility``/``facility_name``, ``severity``/``severity_name``, ``timestamp`` (as
sent), ``host``, ``program``, ``pid``, and for RFC 5424 also ``version``, ``msgid`` and
``structured_data`` (``{sd_id: {param: value}}``). An RFC 5424 timestamp (or an RFC 3339 one in a
BSD line, as rsyslog forwards) also becomes the event's ``@timestamp``; a BSD timestamp has no
year and no zone, so it stays a string for a date filter that knows the sender's zone.

A line that does not start with ``<PRI>`` is not syslog and is left alone. A priority outside
0..191 (``<999>``) is tagged ``_syslog_invalid_priority`` and the line kept whole; a broken RFC 5424
structured-data part is tagged ``_syslogparsefailure``. Nothing here raises on input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streamstash import names

MAX_PRIORITY = 191
NIL = "-"

FACILITY_NAMES = (
    "kern",
    "user",
    "mail",
    "daemon",
    "auth",
    "syslog",
    "lpr",
    "news",
    "uucp",
    "cron",
    "authpriv",
    "ftp",
    "ntp",
    "security",
    "console",
    "solaris-cron",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
)
SEVERITY_NAMES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")

# Keys under fields["syslog"].
PRIORITY, FACILITY, FACILITY_NAME, SEVERITY, SEVERITY_NAME = (
    "priority",
    "facility",
    "facility_name",
    "severity",
    "severity_name",
)
TIMESTAMP, HOST, PROGRAM, PID, MSGID, VERSION, STRUCTURED_DATA = (
    "timestamp",
    "host",
    "program",
    "pid",
    "msgid",
    "version",
    "structured_data",
)

_PRI = re.compile(r"<(\d{1,5})>")
_RFC5424_HEADER = re.compile(r"(\d{1,2}) (\S+) (\S+) (\S+) (\S+) (\S+)(?: |$)")
_BSD_TIMESTAMP = re.compile(r"([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) ")
_RFC3339_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")
_BSD_TAG = re.compile(r"([^\s:\[\]]{1,128})(?:\[([^\]\s]*)\])?: ?")
_HOSTNAME = re.compile(r"(\S+) ")
_SD_NAME = re.compile(r"[^\s=\]\"]{1,32}")
_BOM = "\ufeff"


@dataclass(slots=True)
class SyslogLine:
    message: str
    fields: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    timestamp: str | None = None  # @timestamp, when the line says unambiguously when it was written


def parse_syslog(line: str) -> SyslogLine | None:
    """The syslog reading of ``line``, or None when it is not syslog (no leading ``<PRI>``)."""
    pri = _PRI.match(line)
    if pri is None:
        return None
    priority = int(pri.group(1))
    if priority > MAX_PRIORITY or (len(pri.group(1)) > 1 and pri.group(1).startswith("0")):
        return SyslogLine(message=line, tags=[names.TAG_SYSLOG_INVALID_PRIORITY])
    facility, severity = divmod(priority, 8)
    header: dict[str, Any] = {
        PRIORITY: priority,
        FACILITY: facility,
        FACILITY_NAME: FACILITY_NAMES[facility],
        SEVERITY: severity,
        SEVERITY_NAME: SEVERITY_NAMES[severity],
    }
    rest = line[pri.end() :]
    parsed = _parse_rfc5424(rest, header)
    if parsed is None:
        parsed = _parse_bsd(rest, header)
    return parsed


def _parse_rfc5424(rest: str, header: dict[str, Any]) -> SyslogLine | None:
    match = _RFC5424_HEADER.match(rest)
    if match is None or match.group(1) == "0":
        return None
    version, stamp, host, program, pid, msgid = match.groups()
    timestamp = None
    if stamp != NIL:
        timestamp = _utc_timestamp(stamp)
        if timestamp is None:
            return None  # not an RFC 5424 header after all ("<13>1 apple ..." in a BSD message)
    header[VERSION] = int(version)
    parts = ((TIMESTAMP, stamp), (HOST, host), (PROGRAM, program), (PID, pid), (MSGID, msgid))
    header.update((key, value) for key, value in parts if value != NIL)
    tags: list[str] = []
    body = rest[match.end() :]
    if body.startswith("["):
        elements, consumed = _parse_structured_data(body)
        if elements is None:
            tags.append(names.TAG_SYSLOG_PARSE_FAILURE)
            message = body  # kept whole: nothing of what was sent is lost
        else:
            header[STRUCTURED_DATA] = elements
            message = body[consumed:].removeprefix(" ")
    else:
        message = body[len(NIL) + 1 :] if body.startswith(NIL + " ") else ("" if body == NIL else body)
    return SyslogLine(
        message=message.removeprefix(_BOM), fields={names.FIELD_SYSLOG: header}, tags=tags, timestamp=timestamp
    )


def _parse_structured_data(body: str) -> tuple[dict[str, dict[str, str]] | None, int]:
    """``[id k="v" ...][id2 ...]`` -> ({id: {k: v}}, characters consumed); (None, 0) when malformed."""
    elements: dict[str, dict[str, str]] = {}
    position = 0
    length = len(body)
    while position < length and body[position] == "[":
        name = _SD_NAME.match(body, position + 1)
        if name is None:
            return None, 0
        params: dict[str, str] = {}
        position = name.end()
        while position < length and body[position] == " ":
            param = _SD_NAME.match(body, position + 1)
            if param is None or body[param.end() : param.end() + 2] != '="':
                return None, 0
            position = param.end() + 2
            value: list[str] = []
            while position < length and body[position] != '"':
                if body[position] == "\\" and position + 1 < length and body[position + 1] in '"\\]':
                    position += 1
                value.append(body[position])
                position += 1
            if position >= length:
                return None, 0
            params[param.group(0)] = "".join(value)
            position += 1  # closing quote
        if position >= length or body[position] != "]":
            return None, 0
        elements[name.group(0)] = params
        position += 1
    return elements, position


def _parse_bsd(rest: str, header: dict[str, Any]) -> SyslogLine:
    timestamp = None
    stamp = _BSD_TIMESTAMP.match(rest)
    if stamp is None:
        stamp = _RFC3339_TIMESTAMP.match(rest)
        if stamp is not None:
            timestamp = _utc_timestamp(stamp.group(1))
    position = 0
    if stamp is not None:
        header[TIMESTAMP] = stamp.group(1)
        position = stamp.end()
        host = _HOSTNAME.match(rest, position)
        # A line may omit the host ("<13>Feb  5 17:32:18 sshd[42]: ..."); a tag ends with ':'.
        if host is not None and not host.group(1).endswith(":") and "[" not in host.group(1):
            header[HOST] = host.group(1)
            position = host.end()
    tag = _BSD_TAG.match(rest, position)
    if tag is not None:
        header[PROGRAM] = tag.group(1)
        if tag.group(2):
            header[PID] = tag.group(2)
        position = tag.end()
    return SyslogLine(message=rest[position:], fields={names.FIELD_SYSLOG: header}, timestamp=timestamp)


def _utc_timestamp(text: str) -> str | None:
    """An RFC 3339 timestamp as @timestamp (UTC, milliseconds), or None when it is not one."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
