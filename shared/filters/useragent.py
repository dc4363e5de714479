"""The useragent filter: a User-Agent header -> browser, version, OS and device, with Logstash's field layout.

Parsing is ua-parser's (the uap-core regexes Logstash's filter uses, through the Rust resolver when it is
installed): ~10 µs for a new string, so results are kept in an LRU cache of `lru_cache_size` strings as Logstash
does; real traffic repeats a few thousand agents. The fields of a parse are cached as one nested dict, copied
into each event.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ua_parser
import yaml
from ua_parser import Domain, Result
from ua_parser.loaders import load_yaml

from streamstash import names
from streamstash.config.plugin_filters import UseragentFilter as UseragentSettings
from streamstash.events.fieldpath import get_field, remove_field
from streamstash.filters.base import Decorations, FilterResourceError, Verdict
from streamstash.filters.nested import Tree, tree_of, write_tree

_resolvers: dict[Path | None, ua_parser.Resolver] = {}
_resolvers_lock = threading.Lock()
# Where Logstash's ECS mode keeps the version parts it does not index.
_ECS_METADATA = f"[{names.FIELD_METADATA}][filter][user_agent]"


def resolver_for(regexes: Path | None) -> ua_parser.Resolver:
    """One resolver per regexes file for the whole process: building one compiles ~1,000 regexes (~1 s)."""
    with _resolvers_lock:
        found = _resolvers.get(regexes)
        if found is None:
            try:
                if regexes is None:
                    matchers = ua_parser.load_builtins()
                else:
                    assert load_yaml is not None  # ua-parser defines it when PyYAML is there, a dependency of ours
                    matchers = load_yaml(regexes)
            except (OSError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
                raise FilterResourceError(
                    f"useragent: regexes {str(regexes)!r} cannot be read: {exc}", str(regexes)
                ) from exc
            found = _resolvers[regexes] = ua_parser.BestAvailableResolver(matchers)
        return found


def _os_version(os: Any) -> str | None:
    major = os.major
    if major is None:
        return None
    version = major
    if os.minor is not None:
        # Logstash's rule: a numeric major is joined with a dot, a name ("Vista") with a space.
        version += ("." if major.isdigit() else " ") + os.minor
        if os.patch is not None:
            version += "." + os.patch
            if os.patch_minor is not None:
                version += "." + os.patch_minor
    return version


def _ua_version(text: str, agent: Any) -> str | None:
    if agent.major is None:
        return None
    version = agent.major
    if agent.minor is not None:
        version += "." + agent.minor
        if agent.patch is not None:
            version += "." + agent.patch
            if agent.patch_minor is not None:
                version += "." + agent.patch_minor
            else:
                version = _with_patch_minor(text, version)
    return version


def _with_patch_minor(text: str, version: str) -> str:
    """Logstash adds a fourth number the regexes did not capture when the text has it: `89.0.4389.90`."""
    index = text.find(version)
    if index < 0:
        return version
    index += len(version)
    if text[index : index + 1] == ".":
        end = text.find(" ", index + 1)
        if end > 0:
            candidate = text[index + 1 : end]
            if candidate.isdigit() and str(int(candidate)) == candidate:
                return f"{version}.{candidate}"
    return version


class UseragentFilter:
    def __init__(self, settings: UseragentSettings) -> None:
        self.settings = settings
        self.resolver = resolver_for(settings.regexes)
        ecs = settings.ecs_compatibility != "disabled"
        target = settings.target if settings.target is not None else ("user_agent" if ecs else "")
        self.base = "" if not target else (target if target.startswith("[") else f"[{target}]")
        self.ecs = ecs
        self.prefix = "" if ecs else settings.prefix
        self.fields: Callable[[str], dict[str, Any]]
        if settings.lru_cache_size:
            self.fields = functools.lru_cache(maxsize=settings.lru_cache_size)(self._fields)
        else:
            self.fields = self._fields
        self.decorations = Decorations(settings)

    def _name(self, name: str) -> str:
        return f"{self.base}[{self.prefix}{name}]"

    def _fields(self, text: str) -> Tree:
        result: Result = self.resolver(text, Domain.ALL).complete()
        agent = result.user_agent or ua_parser.UserAgent()
        os = result.os
        device = result.device
        fields: list[tuple[str, str]] = []
        add = fields.append
        ecs = self.ecs
        add((f"{self.base}[name]" if ecs else self._name("name"), agent.family))
        add((f"{self.base}[device][name]" if ecs else self._name("device"), device.family if device else "Other"))
        for part, value in (("major", agent.major), ("minor", agent.minor), ("patch", agent.patch)):
            if value is not None:
                add((f"{_ECS_METADATA}[version][{part}]" if ecs else self._name(part), value))
        version = _ua_version(text, agent)
        if version is not None:
            add((f"{self.base}[version]" if ecs else self._name("version"), version))
        os = os or ua_parser.OS()
        for part, value in (("major", os.major), ("minor", os.minor), ("patch", os.patch)):
            if value is not None:
                add((f"{_ECS_METADATA}[os][version][{part}]" if ecs else self._name(f"os_{part}"), value))
        os_version = _os_version(os)
        if os_version is not None:
            add((f"{self.base}[os][version]" if ecs else self._name("os_version"), os_version))
        full = os.family if os_version is None else f"{os.family} {os_version}"
        if ecs:
            add((f"{self.base}[os][name]", os.family))
            add((f"{self.base}[os][full]", full))
        else:
            add((self._name("os_name"), os.family))
            add((self._name("os"), os.family))
            add((self._name("os_full"), full))
        return tree_of(fields)

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        text = get_field(doc, self.settings.source)
        if isinstance(text, list):
            text = text[0] if text else None
        if not isinstance(text, str) or not text:
            return None
        tree = self.fields(text)
        if self.settings.target is not None and self.settings.target == self.settings.source:
            remove_field(doc, self.settings.source)
        write_tree(doc, tree)
        self.decorations.apply(doc)
        return None
