"""The syslog_pri filter: a syslog priority split into facility and severity codes and names, as Logstash does."""

from __future__ import annotations

import re
from typing import Any

from streamstash import names
from streamstash.config.plugin_filters import SyslogPriFilter as SyslogPriSettings
from streamstash.events.fieldpath import get_field, set_field
from streamstash.filters.base import Decorations, Verdict, add_tags

# Logstash's default when the event has no priority: user-level (1) notice (5).
DEFAULT_PRIORITY = 13
_LEADING_INTEGER = re.compile(r"\s*([+-]?\d+)")

CLASSIC = {
    "priority": "syslog_pri",
    "facility_code": "syslog_facility_code",
    "severity_code": "syslog_severity_code",
    "facility": "syslog_facility",
    "severity": "syslog_severity",
}
ECS = {
    "priority": "[log][syslog][priority]",
    "facility_code": "[log][syslog][facility][code]",
    "severity_code": "[log][syslog][severity][code]",
    "facility": "[log][syslog][facility][name]",
    "severity": "[log][syslog][severity][name]",
}


def priority_of(value: Any) -> int:
    """Ruby's `to_i`, which Logstash applies: leading digits count, text without them is 0."""
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return DEFAULT_PRIORITY
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return int(value)
    match = _LEADING_INTEGER.match(str(value).lstrip("<"))
    return int(match.group(1)) if match else 0


class SyslogPriFilter:
    def __init__(self, settings: SyslogPriSettings) -> None:
        self.settings = settings
        layout = CLASSIC if settings.ecs_compatibility == "disabled" else ECS
        self.source = settings.syslog_pri_field_name or layout["priority"]
        self.fields = layout
        self.decorations = Decorations(settings)

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        priority = priority_of(get_field(doc, self.source))
        severity, facility = priority & 7, priority >> 3
        fields = self.fields
        set_field(doc, fields["severity_code"], severity)
        set_field(doc, fields["facility_code"], facility)
        settings = self.settings
        if settings.use_labels:
            if not 0 <= facility < len(settings.facility_labels):
                add_tags(doc, [names.TAG_SYSLOG_PRI_FAILURE])
            else:
                set_field(doc, fields["facility"], settings.facility_labels[facility])
                if severity < len(settings.severity_labels):
                    set_field(doc, fields["severity"], settings.severity_labels[severity])
        self.decorations.apply(doc)
        return None
