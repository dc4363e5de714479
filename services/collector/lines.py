"""Turning raw bytes into a line's message: invalid UTF-8 kept, huge lines truncated, all tagged."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from streamstash import names


@dataclass(slots=True)
class DecodedLine:
    message: str
    tags: list[str] = field(default_factory=list)
    raw_b64: str | None = None


def decode_line(raw: bytes, max_bytes: int) -> DecodedLine:
    """Decode one line (without its newline); never raises."""
    tags: list[str] = []
    if len(raw) > max_bytes:
        raw = raw[:max_bytes]
        tags.append(names.TAG_TRUNCATED)
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    try:
        return DecodedLine(raw.decode("utf-8"), tags)
    except UnicodeDecodeError:
        tags.append(names.TAG_INVALID_UTF8)
        return DecodedLine(raw.decode("utf-8", errors="replace"), tags, base64.b64encode(raw).decode("ascii"))
