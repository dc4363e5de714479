from __future__ import annotations

import pytest

from streamstash.events.fieldpath import get_field, remove_field, set_field
from streamstash.events.templates import MissingFieldError, Template
from streamstash.events.timeformats import format_iso8601, make_parser, zone_named


def test_field_and_date_references() -> None:
    template = Template("logs-%{[service][name]}-%{+YYYY.MM.dd}")
    doc = {"service": {"name": "web"}, "@timestamp": "2015-01-04T05:13:42.000Z"}
    assert template.render(doc) == "logs-web-2015.01.04"
    assert template.fields == ["[service][name]"]


def test_missing_field_raises_and_try_render_returns_none() -> None:
    template = Template("%{action}_%{progress}")
    with pytest.raises(MissingFieldError):
        template.render({"action": "resize"})
    assert template.try_render({"action": "resize", "progress": "thumb"}) == "resize_thumb"
    assert template.try_render({}) is None


def test_constant_template() -> None:
    assert Template("logs").render({}) == "logs"


def test_field_paths() -> None:
    doc: dict = {}
    set_field(doc, "[a][b]", 1)
    set_field(doc, "c", 2)
    assert doc == {"a": {"b": 1}, "c": 2}
    assert get_field(doc, "[a][b]") == 1 and get_field(doc, "[a][x]") is None
    assert remove_field(doc, "[a][b]") == 1 and doc == {"a": {}, "c": 2}


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("dd/MMM/yyyy:HH:mm:ss Z", "04/Jan/2015:05:13:42 +0000", "2015-01-04T05:13:42.000Z"),
        ("HTTPDATE", "04/Jan/2015:06:13:42 +0100", "2015-01-04T05:13:42.000Z"),
        ("ISO8601", "2026-11-21T10:00:00.123Z", "2026-11-21T10:00:00.123Z"),
        ("ISO8601", "2026-11-21T11:00:00.123+01:00", "2026-11-21T10:00:00.123Z"),
        ("UNIX", "1420348422", "2015-01-04T05:13:42.000Z"),
        ("UNIX_MS", "1420348422500", "2015-01-04T05:13:42.500Z"),
        ("yyyy-MM-dd HH:mm:ss", "2015-01-04 05:13:42", "2015-01-04T05:13:42.000Z"),
    ],
)
def test_time_formats(fmt: str, text: str, expected: str) -> None:
    moment = make_parser(fmt, zone_named("UTC"))(text)
    assert moment is not None and format_iso8601(moment) == expected


def test_time_format_without_offset_uses_the_zone() -> None:
    moment = make_parser("yyyy-MM-dd HH:mm:ss", zone_named("Europe/Berlin"))("2015-01-04 06:13:42")
    assert format_iso8601(moment) == "2015-01-04T05:13:42.000Z"


def test_unparseable_time_is_none() -> None:
    assert make_parser("dd/MMM/yyyy:HH:mm:ss Z", zone_named("UTC"))("yesterday") is None
