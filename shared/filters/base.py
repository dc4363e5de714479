"""What every filter is: a callable on the working dict that may ask to drop or dead-letter the event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from streamstash import names
from streamstash.events.fieldpath import get_field, has_field, remove_field, set_field
from streamstash.events.templates import Template


@dataclass(frozen=True, slots=True)
class Verdict:
    """Returned by a filter that ends the event's way through the chain."""

    action: Literal["drop", "dead_letter"]
    reason: str


class FilterResourceError(ValueError):
    """A file a filter needs (a geoip database, a translate dictionary) is missing or unusable where it runs."""

    def __init__(self, message: str, resource: str) -> None:
        super().__init__(message)
        self.resource = resource


class Filter(Protocol):
    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        """Change ``doc`` in place; return a verdict to drop or dead-letter the event."""


def add_tags(doc: dict[str, Any], tags: list[str]) -> None:
    current = doc.get(names.FIELD_TAGS)
    if not isinstance(current, list):
        current = [] if current is None else [current]
        doc[names.FIELD_TAGS] = current
    for tag in tags:
        if tag not in current:
            current.append(tag)


class Decorations:
    """Logstash's common filter options, applied after a filter succeeded: add_field, remove_field,
    add_tag, remove_tag (in that order). Templates naming a missing field are skipped rather than
    written out literally as Logstash does."""

    def __init__(self, settings: Any) -> None:
        self.add_fields = [
            (Template(field), [Template(item) for item in (value if isinstance(value, list) else [value])])
            for field, value in settings.add_field.items()
        ]
        self.remove_fields = [Template(field) for field in settings.remove_field]
        self.add_tags = [Template(tag) for tag in settings.add_tag]
        self.remove_tags = [Template(tag) for tag in settings.remove_tag]
        self.empty = not (self.add_fields or self.remove_fields or self.add_tags or self.remove_tags)

    def apply(self, doc: dict[str, Any]) -> None:
        if self.empty:
            return
        for field_template, value_templates in self.add_fields:
            field = field_template.try_render(doc)
            if not field:
                continue
            for template in value_templates:
                value = template.try_render(doc)
                if value is None:
                    continue
                if has_field(doc, field):
                    existing = get_field(doc, field)
                    set_field(doc, field, [*existing, value] if isinstance(existing, list) else [existing, value])
                else:
                    set_field(doc, field, value)
        for template in self.remove_fields:
            field = template.try_render(doc)
            if field:
                remove_field(doc, field)
        if self.add_tags:
            add_tags(doc, [tag for tag in (template.try_render(doc) for template in self.add_tags) if tag])
        if self.remove_tags and isinstance(doc.get(names.FIELD_TAGS), list):
            unwanted = {tag for tag in (template.try_render(doc) for template in self.remove_tags) if tag}
            doc[names.FIELD_TAGS] = [tag for tag in doc[names.FIELD_TAGS] if tag not in unwanted]
