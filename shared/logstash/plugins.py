"""One Logstash plugin -> the pipeline file's settings: inputs, filters (all but aggregate) and outputs.

Each plugin's options are read as Logstash types them (see :mod:`streamstash.logstash.values`) and mapped to
our keys; an option with the same name as one of our settings carries over as it is. Options with no
equivalent are reported where they stand, and the rest of the plugin is still translated; the result is
validated with our settings models, so what is written is what `streamstash check` accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from streamstash import names
from streamstash.config.collector import BeatsInput, FileInput, MultilineSettings, StdinInput, TcpInput, UdpInput
from streamstash.config.parser import FilterEntry
from streamstash.logstash import ast
from streamstash.logstash.report import Report, Untranslatable
from streamstash.logstash.values import (
    as_bool,
    as_list_hash,
    as_number,
    as_text,
    as_text_hash,
    as_text_list,
    as_text_or_list_hash,
)

Converter = Callable[[Any, str], Any]
# Options every plugin has that change nothing about the events.
HARMLESS = {"id", "enable_metric", "periodic_flush"}
COMMON_FILTER_OPTIONS: dict[str, Converter] = {
    "add_field": as_text_or_list_hash,
    "add_tag": as_text_list,
    "remove_field": as_text_list,
    "remove_tag": as_text_list,
}
LOGSTASH_ES_PORT = 9200
# Logstash's network inputs listen on every interface unless told otherwise; the import keeps that.
LOGSTASH_LISTEN_HOST = "0.0.0.0"  # noqa: S104
# Where a json codec's line waits while the json filter standing for the codec parses it.
CODEC_LINE_FIELD = f"[{names.FIELD_METADATA}][codec_line]"


class _Ignored:
    """An option accepted without effect, with the reason told to the user (None: nothing to tell)."""

    def __init__(self, note: str | None = None, unless: Callable[[Any], bool] | None = None) -> None:
        self.note = note
        self.unless = unless  # the value that would need a translation we do not have


# Per filter: Logstash option -> (our key, converter) or _Ignored.
FILTER_OPTIONS: dict[str, dict[str, tuple[str, Converter] | _Ignored]] = {
    "grok": {
        "match": ("match", as_list_hash),
        "pattern_definitions": ("pattern_definitions", as_text_hash),
        "patterns_dir": ("patterns_dir", as_text_list),
        "break_on_match": ("break_on_match", as_bool),
        "tag_on_failure": ("tag_on_failure", as_text_list),
        "timeout_millis": ("timeout_ms", as_number),
        "overwrite": ("overwrite", as_text_list),
        "named_captures_only": _Ignored(unless=lambda value: not as_bool(value, "named_captures_only")),
        "keep_empty_captures": _Ignored(unless=lambda value: as_bool(value, "keep_empty_captures")),
        "tag_on_timeout": _Ignored("a grok timeout is tagged `_groktimeout`"),
        "patterns_files_glob": ("patterns_files_glob", as_text),
        "ecs_compatibility": _Ignored(unless=lambda value: as_text(value, "ecs_compatibility") != "disabled"),
    },
    "date": {
        "match": ("match", as_text_list),
        "target": ("target", as_text),
        "timezone": ("timezone", as_text),
        "tag_on_failure": ("tag_on_failure", as_text_list),
        "locale": _Ignored(unless=lambda value: not as_text(value, "locale").lower().startswith("en")),
    },
    "mutate": {
        "coerce": ("coerce", as_text_hash),
        "rename": ("rename", as_text_hash),
        "update": ("update", as_text_hash),
        "replace": ("replace", as_text_hash),
        "convert": ("convert", as_text_hash),
        "gsub": ("gsub", as_text_list),
        "uppercase": ("uppercase", as_text_list),
        "capitalize": ("capitalize", as_text_list),
        "lowercase": ("lowercase", as_text_list),
        "strip": ("strip", as_text_list),
        "split": ("split", as_text_hash),
        "join": ("join", as_text_hash),
        "merge": ("merge", as_text_hash),
        "copy": ("copy", as_text_hash),
        "tag_on_failure": _Ignored("a mutate failure is not tagged"),
    },
    "drop": {"percentage": ("percentage", as_number)},
    "json": {
        "source": ("source", as_text),
        "target": ("target", as_text),
        "skip_on_invalid_json": ("skip_on_invalid_json", as_bool),
        "tag_on_failure": ("tag_on_failure", as_text_list),
        "ecs_compatibility": _Ignored(),
    },
    "kv": {
        "source": ("source", as_text),
        "target": ("target", as_text),
        "field_split": ("field_split", as_text),
        "value_split": ("value_split", as_text),
        "field_split_pattern": ("field_split_pattern", as_text),
        "value_split_pattern": ("value_split_pattern", as_text),
        "include_keys": ("include_keys", as_text_list),
        "exclude_keys": ("exclude_keys", as_text_list),
        "prefix": ("prefix", as_text),
        "trim_key": ("trim_key", as_text),
        "trim_value": ("trim_value", as_text),
        "remove_char_key": ("remove_char_key", as_text),
        "remove_char_value": ("remove_char_value", as_text),
        "include_brackets": ("include_brackets", as_bool),
        "allow_duplicate_values": ("allow_duplicate_values", as_bool),
        "default_keys": ("default_keys", as_text_hash),
        "transform_key": ("transform_key", as_text),
        "transform_value": ("transform_value", as_text),
        "whitespace": ("whitespace", as_text),
        "recursive": _Ignored(unless=lambda value: as_bool(value, "recursive")),
        "tag_on_failure": _Ignored(),
        "tag_on_timeout": _Ignored(),
        "timeout_millis": _Ignored(),
        "ecs_compatibility": _Ignored(),
    },
    "dissect": {
        "mapping": ("mapping", as_text_hash),
        "convert_datatype": ("convert_datatype", as_text_hash),
        "tag_on_failure": ("tag_on_failure", as_text_list),
        "append_separator": ("append_separator", as_text),
    },
    "geoip": {
        "source": ("source", as_text),
        "target": ("target", as_text),
        "database": ("database", as_text),
        "default_database_type": ("default_database_type", as_text),
        "fields": ("fields", as_text_list),
        "cache_size": ("cache_size", as_number),
        "tag_on_failure": ("tag_on_failure", as_text_list),
        "ecs_compatibility": ("ecs_compatibility", as_text),
    },
    "useragent": {
        "source": ("source", as_text),
        "target": ("target", as_text),
        "regexes": ("regexes", as_text),
        "prefix": ("prefix", as_text),
        "lru_cache_size": ("lru_cache_size", as_number),
        "ecs_compatibility": ("ecs_compatibility", as_text),
    },
    "translate": {
        "source": ("source", as_text),
        "field": ("source", as_text),  # the old names
        "target": ("target", as_text),
        "destination": ("target", as_text),
        "dictionary": ("dictionary", as_text_hash),
        "dictionary_path": ("dictionary_path", as_text),
        "exact": ("exact", as_bool),
        "regex": ("regex", as_bool),
        "fallback": ("fallback", as_text),
        "override": ("override", as_bool),
        "refresh_interval": ("refresh_interval", as_number),
        "refresh_behaviour": ("refresh_behaviour", as_text),
        "iterate_on": ("iterate_on", as_text),
        "ecs_compatibility": ("ecs_compatibility", as_text),
        "yaml_dictionary_code_point_limit": _Ignored(),
        "yaml_load_strategy": _Ignored(),
    },
    "csv": {
        "source": ("source", as_text),
        "target": ("target", as_text),
        "columns": ("columns", as_text_list),
        "separator": ("separator", as_text),
        "quote_char": ("quote_char", as_text),
        "autogenerate_column_names": ("autogenerate_column_names", as_bool),
        "autodetect_column_names": ("autodetect_column_names", as_bool),
        "skip_header": ("skip_header", as_bool),
        "skip_empty_columns": ("skip_empty_columns", as_bool),
        "skip_empty_rows": ("skip_empty_rows", as_bool),
        "convert": ("convert", as_text_hash),
        "ecs_compatibility": ("ecs_compatibility", as_text),
    },
    "fingerprint": {
        "source": ("source", as_text_list),
        "target": ("target", as_text),
        "method": ("method", as_text),
        "key": ("key", as_text),
        "base64encode": ("base64encode", as_bool),
        "concatenate_sources": ("concatenate_sources", as_bool),
        "concatenate_all_fields": ("concatenate_all_fields", as_bool),
        "ecs_compatibility": ("ecs_compatibility", as_text),
    },
    "urldecode": {
        "field": ("field", as_text),
        "all_fields": ("all_fields", as_bool),
        "charset": ("charset", as_text),
        "tag_on_failure": ("tag_on_failure", as_text_list),
    },
    "syslog_pri": {
        "syslog_pri_field_name": ("syslog_pri_field_name", as_text),
        "use_labels": ("use_labels", as_bool),
        "facility_labels": ("facility_labels", as_text_list),
        "severity_labels": ("severity_labels", as_text_list),
        "ecs_compatibility": ("ecs_compatibility", as_text),
    },
}
# Logstash passes events that a filter failed on along, tagged; ours can send them to the DLQ instead.
PASS_FAILURES_ON = {"grok", "dissect", "json"}
NO_COMMON_OPTIONS = {"drop"}


class PluginTranslator:
    def __init__(self, report: Report) -> None:
        self.report = report
        # (line, level) of every input that sets ecs_compatibility: the naming of the inputs' fields
        self.input_ecs: list[tuple[int, str]] = []

    # -- filters ------------------------------------------------------------------------------------------

    def filter(self, plugin: ast.Plugin) -> tuple[str, dict[str, Any]]:
        """(kind, settings) of the filter; raises Untranslatable for a plugin with no equivalent."""
        kind = plugin.name
        table = FILTER_OPTIONS.get(kind)
        if table is None:
            raise Untranslatable(f"the {kind} filter has no equivalent", plugin.location.line, plugin.location.text)
        settings: dict[str, Any] = {}
        sources: dict[str, ast.Attribute] = {}
        for attribute in _merged_attributes(plugin):
            name = attribute.name
            option = table.get(name)
            if option is None and kind not in NO_COMMON_OPTIONS and name in COMMON_FILTER_OPTIONS:
                option = (name, COMMON_FILTER_OPTIONS[name])
            if name in HARMLESS:
                continue
            if option is None:
                self._unknown(plugin, attribute)
                continue
            try:
                if isinstance(option, _Ignored):
                    if option.unless is not None and option.unless(attribute.value):
                        raise Untranslatable(f"{name} => {attribute.value!r} has no equivalent")
                    if option.note:
                        self.report.note(attribute.location.line, f"filter {kind}", f"{name}: {option.note}")
                    continue
                key, convert = option
                settings[key] = convert(attribute.value, name)
                sources[key] = attribute
            except Untranslatable as exc:
                self.report.untranslated(
                    attribute.location.line, f"filter {kind} option {name}", exc.message, attribute.location.text
                )
        if kind == "grok":
            settings["match"] = dict(settings.get("match", {}).items())
            # Logstash's grok adds a capture to a field that exists (an array) unless `overwrite` names it.
            settings.setdefault("overwrite", [])
        if kind in PASS_FAILURES_ON:
            settings["dead_letter_on_failure"] = False
        if kind == "geoip" and "database" not in settings:
            self.report.note(
                plugin.location.line,
                "filter geoip",
                "Logstash brings a GeoLite2 database, streamstash does not: install GeoLite2-"
                f"{settings.get('default_database_type', 'City')}.mmdb (MaxMind's geoipupdate) or set `database`",
            )
        return kind, self._validated_filter(plugin, kind, settings, sources)

    def _validated_filter(
        self, plugin: ast.Plugin, kind: str, settings: dict[str, Any], sources: dict[str, ast.Attribute]
    ) -> dict[str, Any]:
        while True:
            try:
                FilterEntry.model_validate({kind: settings})
                return settings
            except ValidationError as exc:
                error = exc.errors()[0]
                location = [str(part) for part in error["loc"]]
                key = next((part for part in location[1:] if part in settings), None)
                if key is None:  # a check across options: find the one without which the rest is valid
                    key = next((name for name in sources if _valid_without(kind, settings, name)), None)
                if key is None:
                    raise Untranslatable(
                        f"the {kind} filter does not carry over: {error['msg']}",
                        plugin.location.line,
                        plugin.location.text,
                    ) from exc
                attribute = sources.get(key)
                self.report.untranslated(
                    attribute.location.line if attribute else plugin.location.line,
                    f"filter {kind} option {key}",
                    error["msg"],
                    attribute.location.text if attribute else plugin.location.text,
                )
                del settings[key]

    def _unknown(self, plugin: ast.Plugin, attribute: ast.Attribute, section: str = "filter") -> None:
        self.report.untranslated(
            attribute.location.line,
            f"{section} {plugin.name} option {attribute.name}",
            "no equivalent option",
            attribute.location.text,
        )

    # -- inputs -------------------------------------------------------------------------------------------

    def input(self, plugin: ast.Plugin) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
        """Our inputs for the plugin, and filters that must run first for it (a json codec)."""
        kind = plugin.name
        if kind == "kafka":
            raise Untranslatable(
                "there is no kafka input: streamstash's own Kafka topics carry its batches, not foreign records",
                plugin.location.line,
                plugin.location.text,
            )
        handler = {
            "file": self._file,
            "stdin": self._stdin,
            "udp": self._network,
            "tcp": self._network,
            "syslog": self._syslog,
            "beats": self._beats,
            "elastic_agent": self._beats,
        }.get(kind)
        if handler is None:
            raise Untranslatable(f"the {kind} input has no equivalent", plugin.location.line, plugin.location.text)
        common: dict[str, Any] = {}
        prelude: list[tuple[str, dict[str, Any]]] = []
        used = {"id", "enable_metric", "type", "add_field", "tags", "codec", "ecs_compatibility"}
        if plugin.get("ecs_compatibility") is not None:
            self.input_ecs.append((plugin.location.line, as_text(plugin.get("ecs_compatibility"), "ecs_compatibility")))
        if plugin.get("type") is not None:
            common.setdefault("add_fields", {})["type"] = as_text(plugin.get("type"), "type")
        if plugin.get("add_field") is not None:
            common.setdefault("add_fields", {}).update(as_text_hash(plugin.get("add_field"), "add_field"))
        if plugin.get("tags") is not None:
            prelude.append(("mutate", {"add_tag": as_text_list(plugin.get("tags"), "tags")}))
        codec = plugin.get("codec")
        if codec is not None:
            self._codec(plugin, codec, common, prelude)
        inputs = handler(plugin, common, used)
        for attribute in plugin.attributes:
            if attribute.name not in used:
                self._unknown(plugin, attribute, "input")
        for item in inputs:
            self._validate_input(plugin, item)
        return inputs, prelude

    def _codec(
        self, plugin: ast.Plugin, codec: Any, common: dict[str, Any], prelude: list[tuple[str, dict[str, Any]]]
    ) -> None:
        name = codec.name if isinstance(codec, ast.Plugin) else str(codec)
        options = codec if isinstance(codec, ast.Plugin) else ast.Plugin(name, [], plugin.location)
        attribute = plugin.attribute("codec")
        assert attribute is not None
        if name in ("plain", "line"):
            return
        if name in ("json", "json_lines"):
            # The json codec makes the object the event: a `message` key in it is the message, and a line
            # that is not JSON stays as the message, tagged. So the line waits in @metadata, and comes back
            # only when the json filter failed (it removes it when it succeeded).
            line = CODEC_LINE_FIELD
            prelude.append(("mutate", {"rename": {names.FIELD_MESSAGE: line}}))
            prelude.append(("json", {"source": line, "remove_field": [line], "dead_letter_on_failure": False}))
            prelude.append(("mutate", {"rename": {line: names.FIELD_MESSAGE}}))
            self.report.note(
                attribute.location.line,
                f"input {plugin.name} codec {name}",
                "a JSON array is not split into one event per item (it is tagged `_jsonparsefailure`)",
            )
            return
        if name == "multiline":
            settings: dict[str, Any] = {}
            for option in options.attributes:
                if option.name in ("pattern", "what"):
                    settings[option.name] = as_text(option.value, option.name)
                elif option.name == "negate":
                    settings["negate"] = as_bool(option.value, "negate")
                elif option.name == "max_lines":
                    settings["max_lines"] = int(as_number(option.value, "max_lines"))
                elif option.name == "auto_flush_interval":
                    settings["timeout_ms"] = int(as_number(option.value, "auto_flush_interval") * 1000)
                elif option.name not in HARMLESS:
                    self._unknown(options, option, "codec")
            if "%{" in settings.get("pattern", ""):
                raise Untranslatable(
                    "a multiline pattern with grok references has no equivalent",
                    attribute.location.line,
                    attribute.location.text,
                )
            try:
                MultilineSettings.model_validate(settings)
            except ValidationError as exc:
                raise Untranslatable(
                    f"the multiline codec does not carry over: {exc.errors()[0]['msg']}",
                    attribute.location.line,
                    attribute.location.text,
                ) from exc
            common["multiline"] = settings
            return
        raise Untranslatable(f"the {name} codec has no equivalent", attribute.location.line, attribute.location.text)

    def _file(self, plugin: ast.Plugin, common: dict[str, Any], used: set[str]) -> list[dict[str, Any]]:
        used.update(
            {
                "path",
                "exclude",
                "start_position",
                "sincedb_path",
                "stat_interval",
                "discover_interval",
                "mode",
                "file_completed_action",
                "sincedb_clean_after",
                "close_older",
                "ignore_older",
            }
        )
        settings: dict[str, Any] = {
            "type": "file",
            "paths": as_text_list(plugin.get("path"), "path") if plugin.get("path") is not None else [],
        }
        if plugin.get("exclude") is not None:
            settings["exclude"] = as_text_list(plugin.get("exclude"), "exclude")
        if plugin.get("start_position") is not None:
            settings["start_position"] = as_text(plugin.get("start_position"), "start_position")
        if plugin.get("stat_interval") is not None:
            settings["poll_interval_ms"] = max(10, int(as_number(plugin.get("stat_interval"), "stat_interval") * 1000))
        if plugin.get("mode") is not None and as_text(plugin.get("mode"), "mode") == "read":
            settings["start_position"] = "beginning"
            settings["exit_at_eof"] = True
            self.report.note(
                plugin.location.line,
                "input file",
                "mode read: files are read from the start and the input stops at their end (no file_completed_action)",
            )
        if plugin.get("sincedb_path") is not None:
            self.report.note(
                plugin.location.line,
                "input file",
                "sincedb_path: the collector keeps its own checkpoints under state_dir",
            )
        return [{**settings, **common}]

    def _stdin(self, plugin: ast.Plugin, common: dict[str, Any], used: set[str]) -> list[dict[str, Any]]:
        return [{"type": "stdin", **common}]

    def _network(self, plugin: ast.Plugin, common: dict[str, Any], used: set[str]) -> list[dict[str, Any]]:
        used.update({"port", "host", "queue_size", "workers", "buffer_size", "receive_buffer_bytes", "mode"})
        if plugin.get("mode") is not None and as_text(plugin.get("mode"), "mode") != "server":
            raise Untranslatable(
                "a tcp input in client mode has no equivalent", plugin.location.line, plugin.location.text
            )
        if plugin.get("port") is None:
            raise Untranslatable(f"the {plugin.name} input needs a port", plugin.location.line, plugin.location.text)
        settings: dict[str, Any] = {
            "type": plugin.name,
            "port": int(as_number(plugin.get("port"), "port")),
            "host": as_text(plugin.get("host"), "host") if plugin.get("host") is not None else LOGSTASH_LISTEN_HOST,
            # Logstash's udp/tcp inputs keep the line as it came; the syslog input parses.
            "syslog": False,
        }
        if plugin.name == "udp" and plugin.get("queue_size") is not None:
            settings["queue_datagrams"] = int(as_number(plugin.get("queue_size"), "queue_size"))
        return [{**settings, **common}]

    def _syslog(self, plugin: ast.Plugin, common: dict[str, Any], used: set[str]) -> list[dict[str, Any]]:
        used.update(
            {
                "port",
                "host",
                "timezone",
                "locale",
                "use_labels",
                "facility_labels",
                "severity_labels",
                "grok_pattern",
                "ecs_compatibility",
            }
        )
        port = int(as_number(plugin.get("port"), "port")) if plugin.get("port") is not None else 514
        host = as_text(plugin.get("host"), "host") if plugin.get("host") is not None else LOGSTASH_LISTEN_HOST
        if plugin.get("grok_pattern") is not None:
            attribute = plugin.attribute("grok_pattern")
            assert attribute is not None
            self.report.untranslated(
                attribute.location.line,
                "input syslog option grok_pattern",
                "the syslog inputs parse RFC 3164/5424 themselves",
                attribute.location.text,
            )
        self.report.note(
            plugin.location.line,
            "input syslog",
            "listens on UDP and TCP like Logstash's; the syslog "
            f"header is kept under `{names.FIELD_SYSLOG}` rather than Logstash's top-level "
            "priority/facility/severity/logsource/program fields",
        )
        return [{"type": kind, "port": port, "host": host, "syslog": True, **common} for kind in ("udp", "tcp")]

    def _beats(self, plugin: ast.Plugin, common: dict[str, Any], used: set[str]) -> list[dict[str, Any]]:
        """Logstash's beats input, its TLS options under their current and former names."""
        same = {
            "ssl_certificate": as_text,
            "ssl_key": as_text,
            "ssl_key_passphrase": as_text,
            "ssl_certificate_authorities": as_text_list,
            "ssl_client_authentication": as_text,
            "ssl_verify_mode": as_text,
            "ssl_supported_protocols": as_text_list,
            "ssl_cipher_suites": as_text_list,
            "client_inactivity_timeout": as_number,
        }
        harmless = {"executor_threads", "event_loop_threads", "include_codec_tag", "enrich", "ecs_compatibility"}
        used.update({"port", "host", "ssl", "ssl_enabled", "ssl_handshake_timeout", *same, *harmless})
        settings: dict[str, Any] = {
            "type": "beats",
            "port": int(as_number(plugin.get("port"), "port")) if plugin.get("port") is not None else 5044,
            "host": as_text(plugin.get("host"), "host") if plugin.get("host") is not None else LOGSTASH_LISTEN_HOST,
        }
        for name in ("ssl", "ssl_enabled"):
            if plugin.get(name) is not None:
                settings["ssl_enabled"] = as_bool(plugin.get(name), name)
        for name, convert in same.items():
            if plugin.get(name) is not None:
                settings[name] = convert(plugin.get(name), name)
        if plugin.get("ssl_handshake_timeout") is not None:  # milliseconds in Logstash
            settings["ssl_handshake_timeout"] = (
                as_number(plugin.get("ssl_handshake_timeout"), "ssl_handshake_timeout") / 1000
            )
        mode = settings.pop("ssl_verify_mode", None)
        if mode is not None:
            settings.setdefault(
                "ssl_client_authentication", {"peer": "optional", "force_peer": "required"}.get(mode, mode)
            )
        notes = {
            "add_hostname": "Beats send their own `host`; the old `[beat][hostname]` is not copied to it",
            "ssl_peer_metadata": "with client certificates the TLS peer is in `[@metadata][tls_peer]`",
        }
        for name in ("add_hostname", "ssl_peer_metadata", "tls_min_version", "tls_max_version", "cipher_suites"):
            attribute = plugin.attribute(name)
            if attribute is None:
                continue
            used.add(name)
            if name in notes:
                self.report.note(attribute.location.line, f"input beats option {name}", notes[name])
            else:
                self.report.untranslated(
                    attribute.location.line,
                    f"input beats option {name}",
                    "no equivalent option: set ssl_supported_protocols (TLSv1.2, TLSv1.3) and ssl_cipher_suites",
                    attribute.location.text,
                )
        return [{**settings, **common}]

    def _validate_input(self, plugin: ast.Plugin, settings: dict[str, Any]) -> None:
        models: dict[str, type[BaseModel]] = {
            "file": FileInput,
            "stdin": StdinInput,
            "udp": UdpInput,
            "tcp": TcpInput,
            "beats": BeatsInput,
        }
        model = models[settings["type"]]
        try:
            model.model_validate(settings)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise Untranslatable(
                f"the {plugin.name} input does not carry over: {'.'.join(map(str, error['loc']))}: {error['msg']}",
                plugin.location.line,
                plugin.location.text,
            ) from exc

    # -- outputs ------------------------------------------------------------------------------------------

    def elasticsearch(self, plugin: ast.Plugin, connection: dict[str, Any], output: dict[str, Any]) -> None:
        """Fill `elasticsearch` (connection) and `outputs.elasticsearch` from the plugin."""
        ssl = False
        for attribute in plugin.attributes:
            name, value = attribute.name, attribute.value
            try:
                if name in HARMLESS:
                    continue
                if name in ("ssl", "ssl_enabled"):
                    ssl = as_bool(value, name)
                elif name == "hosts":
                    connection["hosts"] = as_text_list(value, name)
                elif name == "user":
                    connection["username"] = as_text(value, name)
                elif name == "password":
                    connection["password"] = as_text(value, name)
                elif name == "api_key":
                    connection["api_key"] = as_text(value, name)
                elif name in ("cacert", "ssl_certificate_authorities"):
                    connection["ca_file"] = as_text_list(value, name)[0]
                elif name == "ssl_certificate_verification":
                    connection["verify_certs"] = as_bool(value, name)
                elif name == "ssl_verification_mode":
                    connection["verify_certs"] = as_text(value, name) != "none"
                elif name == "index":
                    output["index"] = as_text(value, name)
                elif name == "data_stream":
                    # "auto" writes to a data stream only when Logstash's ECS mode asks for it; ours never does.
                    output["data_stream"] = as_text(value, name) == "true"
                elif name == "manage_template":
                    output["install_template"] = as_bool(value, name)
                elif name == "template_name":
                    output["template_name"] = as_text(value, name)
                elif name == "ecs_compatibility":
                    level = as_text(value, name)
                    output["ecs_compatibility"] = "disabled" if level == "disabled" else "v8"
                elif name in ELASTICSEARCH_DOCUMENT_OPTIONS:
                    self._elasticsearch_document_option(attribute, output)
                elif name in (
                    "timeout",
                    "pool_max",
                    "pool_max_per_route",
                    "retry_initial_interval",
                    "retry_max_interval",
                    "sniffing",
                    "http_compression",
                    "compression_level",
                ):
                    self.report.note(
                        attribute.location.line,
                        f"output elasticsearch option {name}",
                        "tuned under outputs.elasticsearch.bulk and elasticsearch instead",
                    )
                else:
                    raise Untranslatable("no equivalent option")
            except Untranslatable as exc:
                self.report.untranslated(
                    attribute.location.line, f"output elasticsearch option {name}", exc.message, attribute.location.text
                )
        if "hosts" in connection:
            connection["hosts"] = [_host_url(host, ssl) for host in connection["hosts"]]
            if any("${" in host for host in connection["hosts"]):
                self.report.note(
                    plugin.location.line,
                    "output elasticsearch",
                    f"hosts come from a variable: its value needs the port (Logstash adds :{LOGSTASH_ES_PORT})",
                )

    def _elasticsearch_document_option(self, attribute: ast.Attribute, output: dict[str, Any]) -> None:
        """The options on where and how documents are written: translated, or reported with what to do."""
        name, value, line = attribute.name, attribute.value, attribute.location.line
        subject = f"output elasticsearch option {name}"
        if name == "action":
            action = as_text(value, name)
            if action not in ("index", "create"):
                raise Untranslatable(
                    f"action {action} has no equivalent: streamstash only adds documents (index or create). "
                    "To keep one document per key up to date, make it an aggregation (task_id: the key) or set "
                    "document_id so that a newer event replaces the document"
                )
            output["op_type"] = action
        elif name == "document_id":
            output["document_id"] = as_text(value, name)
            self.report.note(
                line,
                subject,
                "documents with the same id replace each other; an event missing a field the template names "
                "keeps its own id (where it entered logs.raw) rather than Logstash's literal `%{...}` id",
            )
        elif name == "pipeline":
            output["pipeline"] = as_text(value, name)
        elif name == "template":
            output["template_file"] = as_text(value, name)
            output.setdefault("template_overwrite", False)  # Logstash's default for a template it installs
            self.report.note(
                line,
                subject,
                "the indexer installs this file instead of streamstash's template (under template_name); the "
                "file must be readable where the indexer runs",
            )
        elif name == "template_overwrite":
            output["template_overwrite"] = as_bool(value, name)
        elif name == "template_api":
            self.report.note(line, subject, "the API follows the file: composable with `template`, else legacy")
        elif name == "document_type":
            self.report.note(
                line, subject, "left out: Elasticsearch 7 and later have no mapping types (every document is _doc)"
            )
        elif name == "ilm_enabled":
            if as_text(value, name) != "false":
                self.report.note(
                    line,
                    subject,
                    "streamstash writes to `index` (daily indices) or, with data_stream: true, to data streams "
                    "that Elasticsearch rolls over; ilm_policy goes into the index template",
                )
        elif name == "ilm_policy":
            output["ilm_policy"] = as_text(value, name)
        elif name in ("ilm_rollover_alias", "ilm_pattern"):
            raise Untranslatable(
                f"{name}: streamstash does not create rollover aliases. Use data_stream: true (Elasticsearch rolls "
                "data streams over by the ILM policy), or create the alias and its first index "
                "(<alias>-000001, is_write_index) yourself and set `index` to the alias"
            )
        else:
            raise Untranslatable(
                f"{name} has no equivalent: it only matters for updates and routing, and streamstash "
                "only adds documents to the index `index` names"
            )


# Where and how documents are written (see PluginTranslator._elasticsearch_document_option).
ELASTICSEARCH_DOCUMENT_OPTIONS = {
    "action",
    "document_id",
    "pipeline",
    "template",
    "template_overwrite",
    "template_api",
    "document_type",
    "ilm_enabled",
    "ilm_policy",
    "ilm_rollover_alias",
    "ilm_pattern",
    "routing",
    "parent",
    "join_field",
    "doc_as_upsert",
    "upsert",
    "script",
    "script_type",
    "script_lang",
    "script_var_name",
    "scripted_upsert",
    "retry_on_conflict",
    "version",
    "version_type",
}


def _valid_without(kind: str, settings: dict[str, Any], key: str) -> bool:
    try:
        FilterEntry.model_validate({kind: {name: value for name, value in settings.items() if name != key}})
    except ValidationError:
        return False
    return True


def _merged_attributes(plugin: ast.Plugin) -> list[ast.Attribute]:
    """Repeated options merged the way Logstash merges them, each kept at its first line."""
    merged: dict[str, ast.Attribute] = {}
    for attribute in plugin.attributes:
        if attribute.name not in merged:
            merged[attribute.name] = ast.Attribute(
                attribute.name, plugin.get(attribute.name), attribute.location, attribute.value_location
            )
    return list(merged.values())


def _host_url(host: str, ssl: bool) -> str:
    """Logstash's `es01`, `es01:9200`, `//es01` and `https://es01` -> a URL with scheme and port."""
    text = host if "://" in host else f"{'https' if ssl else 'http'}://{host.lstrip('/')}"
    if "${" in host:
        return text  # the port is up to the variable's value
    parts = urlsplit(text)
    if parts.port is None and parts.hostname:
        text = text.replace(parts.netloc, f"{parts.netloc}:{LOGSTASH_ES_PORT}", 1)
    return text
