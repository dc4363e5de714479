"""The fingerprint filter: Logstash's hashes of fields, byte for byte (same input text, same output format)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import uuid
from collections.abc import Callable
from typing import Any

import mmh3
import regex

from streamstash import names
from streamstash.config.plugin_filters import FingerprintFilter as FingerprintSettings
from streamstash.events.fieldpath import get_field, has_field, set_field
from streamstash.filters.base import Decorations, Verdict, add_tags

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
# Seed Logstash passes to MurmurHash3's 128-bit variant.
MURMUR3_128_SEED = 2
_NOT_PUNCTUATION = regex.compile(r"[^\p{P}\p{S}]")


def canonical(value: Any) -> str:
    """The text Logstash hashes for a value: Ruby's `to_s`, objects as `k|v|...` sorted by key, lists joined by `|`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "|".join(f"{canonical(key)}|{canonical(item)}" for key, item in sorted(value.items()))
    if isinstance(value, list):
        return "|".join(canonical(item) for item in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class FingerprintFilter:
    def __init__(self, settings: FingerprintSettings) -> None:
        self.settings = settings
        self.target = settings.target or (
            "fingerprint" if settings.ecs_compatibility == "disabled" else "[event][hash]"
        )
        self.sorted_sources = sorted(settings.source)
        self.key = settings.key.get_secret_value().encode() if settings.key is not None else None
        self.hash = self._hasher()
        self.decorations = Decorations(settings)

    def _hasher(self) -> Callable[[Any], Any]:
        method = self.settings.method
        if method == "MURMUR3":
            return _murmur3_32
        if method == "MURMUR3_128":
            return self._murmur3_128
        if method == "IPV4_NETWORK":
            assert self.key is not None
            prefix = int(self.key)
            return lambda value: str(ipaddress.ip_network(f"{canonical(value)}/{prefix}", strict=False).network_address)
        digest = getattr(hashlib, method.lower(), None) if method not in ("UUID", "PUNCTUATION") else None
        if digest is None:
            return canonical
        return lambda value: self._digest(digest, canonical(value).encode("utf-8"))

    def _digest(self, digest: Callable[..., Any], data: bytes) -> str:
        raw = hmac.new(self.key, data, digest).digest() if self.key is not None else digest(data).digest()
        return base64.b64encode(raw).decode("ascii") if self.settings.base64encode else raw.hex()

    def _murmur3_128(self, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            width = 4 if INT32_MIN <= value <= INT32_MAX else 8
            data = (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
        else:
            data = canonical(value).encode("utf-8")
        raw = mmh3.hash_bytes(data, MURMUR3_128_SEED, x64arch=True)
        return base64.b64encode(raw).decode("ascii") if self.settings.base64encode else raw.hex()

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        settings = self.settings
        try:
            if settings.method == "UUID":
                set_field(doc, self.target, str(uuid.uuid4()))
            elif settings.method == "PUNCTUATION":
                for field in self.sorted_sources:
                    if has_field(doc, field):
                        set_field(doc, self.target, _NOT_PUNCTUATION.sub("", canonical(get_field(doc, field))))
            elif settings.concatenate_all_fields:
                fields = {key: value for key, value in doc.items() if key != names.FIELD_METADATA}
                if not fields.get(names.FIELD_TAGS):
                    fields.pop(names.FIELD_TAGS, None)  # the working dict always has tags; an event may not
                set_field(doc, self.target, self.hash(_concatenated(sorted(fields.items()))))
            elif settings.concatenate_sources:
                pairs = [(field, get_field(doc, field)) for field in self.sorted_sources]
                set_field(doc, self.target, self.hash(_concatenated(pairs)))
            else:
                for field in settings.source:
                    if not has_field(doc, field):
                        continue
                    value = get_field(doc, field)
                    if isinstance(value, list):
                        set_field(doc, self.target, [self.hash(item) for item in value])
                    else:
                        set_field(doc, self.target, self.hash(value))
        except ValueError:  # IPV4_NETWORK of text that is no IPv4 address
            add_tags(doc, [names.TAG_FINGERPRINT_FAILURE])
            return None
        self.decorations.apply(doc)
        return None


def _concatenated(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"|{name}|{canonical(value)}" for name, value in pairs) + "|"


def _murmur3_32(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return mmh3.hash((value & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little"), 0, signed=False)
    return mmh3.hash(canonical(value).encode("utf-8"), 0, signed=False)
