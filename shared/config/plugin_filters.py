"""Settings of the filters Logstash users reach for most after grok and date: geoip, useragent, translate, csv,
fingerprint, urldecode and syslog_pri. Option names are Logstash's, so a translated config reads the same."""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, SecretStr, field_validator, model_validator

from streamstash import names
from streamstash.config.filter_common import CommonFilterOptions, EcsCompatibility

GEOIP_FIELDS = (
    "ip",
    "city_name",
    "continent_code",
    "continent_name",
    "country_name",
    "country_code2",
    "country_code3",
    "postal_code",
    "dma_code",
    "region_name",
    "region_code",
    "region_iso_code",
    "timezone",
    "location",
    "latitude",
    "longitude",
    "asn",
    "as_org",
    "network",
    "isp",
    "organization",
    "domain",
    "hosting_provider",
    "tor_exit_node",
    "anonymous_vpn",
    "anonymous",
    "public_proxy",
    "residential_proxy",
)
FingerprintMethod = Literal[
    "SHA1", "SHA256", "SHA384", "SHA512", "MD5", "MURMUR3", "MURMUR3_128", "IPV4_NETWORK", "UUID", "PUNCTUATION"
]
FINGERPRINT_METHODS: tuple[str, ...] = get_args(FingerprintMethod)


def _one_is_a_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


def _renamed(values: object, old: str, new: str) -> object:
    """Logstash's deprecated option name, accepted as it still is there; both at once is an error."""
    if isinstance(values, dict) and old in values:
        if new in values:
            raise ValueError(f"`{old}` is the old name of `{new}`: set only `{new}`")
        values = {**values, new: values[old]}
        del values[old]
    return values


class GeoipFilter(CommonFilterOptions):
    """Look an IP address up in a MaxMind database (GeoLite2/GeoIP2 City, Country, ASN, ISP, ...).

    The field layout follows Logstash's: with `ecs_compatibility: disabled` the fields are `[target][city_name]`,
    `[target][country_code2]`, `[target][location][lat]`, ... under `target` (default `geoip`); with `v1`/`v8`
    they are ECS, `[target][geo][city_name]`, `[target][geo][location]`, `[target][as][number]`, ... under
    `target` (default: the parent of an `[...][ip]` source, `[client][ip]` -> `client`). Unset, the layout is ECS
    when the source is an `[...][ip]` field and classic otherwise. Addresses not in the database, private ones and
    text that is no address are tagged `_geoip_lookup_failure`.
    """

    source: str = Field(description="Field holding the IP address (a list: its first item).", examples=["clientip"])
    target: str | None = Field(
        None, description="Field that receives the location; see above for the default.", examples=["geoip"]
    )
    database: Path | None = Field(
        None,
        description="MaxMind DB file (`.mmdb`). Unset: `GeoLite2-<default_database_type>.mmdb` in /usr/share/GeoIP, "
        "/var/lib/GeoIP or /usr/local/share/GeoIP (where `geoipupdate` puts it). The parser refuses to start "
        "without one.",
        examples=["/etc/streamstash/GeoLite2-City.mmdb"],
    )
    default_database_type: Literal["City", "ASN"] = Field(
        "City", description="Which database is looked for when `database` is unset.", examples=["ASN"]
    )
    fields: list[str] = Field(
        default_factory=list,
        description="Only these of Logstash's geoip fields (`city_name`, `country_code2`, `location`, `asn`, ...); "
        "empty: the database type's defaults.",
        examples=[["city_name", "country_code2", "location"]],
    )
    cache_size: int = Field(
        1000, ge=0, description="Addresses whose result is kept (0: no cache), as in Logstash.", examples=[10000]
    )
    tag_on_failure: list[str] = Field(
        [names.TAG_GEOIP_FAILURE],
        description="Tags added when the address is missing, invalid or not found.",
        examples=[["_geoip_lookup_failure"]],
    )
    ecs_compatibility: EcsCompatibility | None = Field(
        None, description="Field layout: `disabled` (classic) or `v1`/`v8` (ECS); see above.", examples=["v8"]
    )

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        lowered = [item.lower() for item in value]
        unknown = sorted(set(lowered) - set(GEOIP_FIELDS))
        if unknown:
            raise ValueError(f"unknown geoip field(s) {unknown}; expected some of {list(GEOIP_FIELDS)}")
        return lowered


class UseragentFilter(CommonFilterOptions):
    """Parse a browser's User-Agent header with ua-parser (the regexes Logstash's filter uses, kept current).

    Classic layout (`ecs_compatibility: disabled`): `name`, `version`, `major`, `minor`, `patch`, `device`, `os`,
    `os_name`, `os_full`, `os_version`, `os_major`, `os_minor`, `os_patch` under `target` (or at the top level,
    each with `prefix`). ECS (`v1`/`v8`): `[user_agent][name]`, `[user_agent][version]`, `[user_agent][device][name]`,
    `[user_agent][os][name|full|version]`.
    """

    source: str = Field(description="Field holding the User-Agent text.", examples=["agent"])
    target: str | None = Field(
        None,
        description="Field that receives the parts. Unset: the top level (classic) or `user_agent` (ECS).",
        examples=["useragent"],
    )
    regexes: Path | None = Field(
        None,
        description="A `regexes.yaml` of your own instead of the bundled one (ua-parser's format).",
        examples=["/etc/streamstash/regexes.yaml"],
    )
    prefix: str = Field("", description="Put before each field name (classic layout only).", examples=["ua_"])
    lru_cache_size: int = Field(
        100_000, ge=0, description="User agents whose parse is kept (0: no cache), as in Logstash.", examples=[10000]
    )
    ecs_compatibility: EcsCompatibility = Field(
        "disabled", description="Field layout: `disabled` (classic) or `v1`/`v8` (ECS).", examples=["v8"]
    )


class TranslateFilter(CommonFilterOptions):
    """Replace a value by the one a dictionary gives it: inline or in a YAML, JSON or CSV file, reloaded as it changes.

    `exact: true` looks the whole value up (with `regex: true` each key is a regex, the first that matches wins);
    `exact: false` replaces every occurrence of a key inside the value. When nothing matches, `fallback` (a
    template) is written if set. The target is left alone when it exists, unless `override`.
    """

    source: str = Field(description="Field holding the value to look up (`field` in old configs).", examples=["code"])
    target: str | None = Field(
        None,
        description="Field that receives the translation (`destination` in old configs). Unset: `translation` "
        "(classic) or `source` itself (ECS).",
        examples=["status_text"],
    )
    dictionary: dict[str, Any] = Field(
        default_factory=dict, description="Key -> value, inline.", examples=[{"200": "OK", "404": "Not Found"}]
    )
    dictionary_path: Path | None = Field(
        None,
        description="A `.yml`/`.yaml`, `.json` (an object) or `.csv` (key,value rows) file; instead of `dictionary`.",
        examples=["/etc/streamstash/status.yml"],
    )
    exact: bool = Field(True, description="Whole-value lookup; false: replace keys found inside.", examples=[False])
    regex: bool = Field(False, description="With `exact`, the keys are regexes.", examples=[True])
    fallback: str | None = Field(
        None, description="Written when nothing matches (a template).", examples=["unknown: %{code}"]
    )
    override: bool | None = Field(
        None,
        description="Overwrite a target that exists. Unset: false, but true when target and source are one field.",
        examples=[True],
    )
    refresh_interval: float = Field(
        300,
        ge=0,
        description="Seconds between checks of `dictionary_path` for changes (0: never).",
        examples=[60],
    )
    refresh_behaviour: Literal["merge", "replace"] = Field(
        "merge",
        description="On reload, add to the entries held (`merge`) or start from the file alone (`replace`).",
        examples=["replace"],
    )
    iterate_on: str | None = Field(
        None,
        description="A list field: with `source` the same field, each item is translated; otherwise each item is an "
        "object whose `source` field is translated into its `target` field.",
        examples=["[items]"],
    )
    ecs_compatibility: EcsCompatibility = Field(
        "disabled", description="Only picks the default `target`.", examples=["v8"]
    )

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, values: object) -> object:
        return _renamed(_renamed(values, "field", "source"), "destination", "target")

    @model_validator(mode="after")
    def _one_dictionary(self) -> TranslateFilter:
        if self.dictionary and self.dictionary_path is not None:
            raise ValueError("`dictionary` and `dictionary_path` are exclusive: set one")
        if self.dictionary_path is not None and self.dictionary_path.suffix.lower() not in (
            ".yml",
            ".yaml",
            ".json",
            ".csv",
        ):
            raise ValueError(
                f"dictionary_path {str(self.dictionary_path)!r}: expected a .yml, .yaml, .json or .csv file"
            )
        if self.regex and self.exact:
            for key in self.dictionary:
                try:
                    re.compile(key)
                except re.error as exc:
                    raise ValueError(f"dictionary key {key!r} is not a valid regex: {exc}") from exc
        if self.override is False and self.effective_target == self.source:
            raise ValueError("`override: false` with an in-place translation has no effect: remove it")
        return self

    @property
    def effective_target(self) -> str:
        if self.target is not None:
            return self.target
        return "translation" if self.ecs_compatibility == "disabled" else self.source


class CsvFilter(CommonFilterOptions):
    """Split a field of comma-separated (or other) values into named fields, quotes respected.

    Empty columns become null, as in Logstash. A line that is not valid CSV (an open quote, a quote inside an
    unquoted value) is tagged `_csvparsefailure`.
    """

    source: str = Field(names.FIELD_MESSAGE, description="Field holding the CSV text.", examples=["message"])
    target: str | None = Field(None, description="Field that receives the columns. Unset: top level.", examples=["csv"])
    columns: list[str] = Field(
        default_factory=list,
        description="Names of the columns in order; columns past them are `column<N>` (see below).",
        examples=[["time", "user", "action"]],
    )
    separator: str = Field(",", min_length=1, description="Between values (any text).", examples=["\t"])
    quote_char: str = Field('"', min_length=1, max_length=1, description="Quotes a value.", examples=["'"])
    autogenerate_column_names: bool = Field(
        True, description="Name columns past `columns` `column<N>`; false: leave them out.", examples=[False]
    )
    autodetect_column_names: bool = Field(
        False,
        description="Take the column names from the first line this filter sees (and drop that line). Each parser "
        "instance sees its own first line: use it with one partition and one instance only, as Logstash asks for "
        "one worker.",
        examples=[True],
    )
    skip_header: bool = Field(False, description="Drop lines that equal `columns` (a header line).", examples=[True])
    skip_empty_columns: bool = Field(False, description="Leave empty values out.", examples=[True])
    skip_empty_rows: bool = Field(
        False, description="Tag an empty line `_csvskippedemptyfield` instead of `_csvparsefailure`.", examples=[True]
    )
    convert: dict[str, Literal["integer", "float", "boolean", "date", "date_time"]] = Field(
        default_factory=dict,
        description="Column -> type; values that do not convert stay text. `date`/`date_time` take ISO 8601 and "
        "become a timestamp text.",
        examples=[{"bytes": "integer", "ok": "boolean"}],
    )
    tag_on_failure: list[str] = Field(
        [names.TAG_CSV_FAILURE],
        description="Tags added when the text is not valid CSV.",
        examples=[["_csvparsefailure"]],
    )
    ecs_compatibility: EcsCompatibility = Field(
        "disabled", description="Accepted for Logstash configs; the layout is the same.", examples=["v8"]
    )

    @model_validator(mode="after")
    def _separator_is_not_a_quote(self) -> CsvFilter:
        if self.quote_char in self.separator:
            raise ValueError("the separator and the quote_char must differ")
        return self


class FingerprintFilter(CommonFilterOptions):
    """A hash of one or more fields (to deduplicate, or to hide a value): Logstash's methods and output formats.

    SHA1/SHA256/SHA384/SHA512/MD5 give hex (or base64 with `base64encode`), HMAC with `key`; MURMUR3 an unsigned
    32-bit number, MURMUR3_128 hex; IPV4_NETWORK the network of an address (`key` is the prefix length, `24`);
    UUID a random id; PUNCTUATION the punctuation of the text. Several sources without `concatenate_sources` each
    overwrite the target in turn (Logstash's behaviour): the last one present wins.
    """

    source: list[str] = Field([names.FIELD_MESSAGE], description="Field(s) hashed.", examples=[["clientip", "request"]])
    target: str | None = Field(
        None,
        description="Field that receives the hash. Unset: `fingerprint` (classic) or `[event][hash]` (ECS).",
        examples=["[@metadata][fingerprint]"],
    )
    method: FingerprintMethod = Field(
        "SHA1", description="One of " + ", ".join(FINGERPRINT_METHODS) + ".", examples=["SHA256"]
    )
    key: SecretStr | None = Field(
        None,
        description="HMAC key for the SHA/MD5 methods; the prefix length for IPV4_NETWORK.",
        examples=["${FP_KEY}"],
    )
    base64encode: bool = Field(False, description="Base64 instead of hex.", examples=[True])
    concatenate_sources: bool = Field(
        False, description="Hash `|name|value|name|value|` of all sources (sorted by name) at once.", examples=[True]
    )
    concatenate_all_fields: bool = Field(
        False, description="Hash every field of the event (but `@metadata`) that way.", examples=[True]
    )
    ecs_compatibility: EcsCompatibility = Field(
        "disabled", description="Only picks the default `target`.", examples=["v8"]
    )

    @field_validator("source", mode="before")
    @classmethod
    def _one_source(cls, value: object) -> object:
        return _one_is_a_list(value)

    @model_validator(mode="after")
    def _key_fits_the_method(self) -> FingerprintFilter:
        if self.method == "IPV4_NETWORK":
            prefix = self.key.get_secret_value() if self.key is not None else ""
            if not prefix.isdigit() or not 0 <= int(prefix) <= 32:
                raise ValueError("IPV4_NETWORK needs `key`: the prefix length of the network, 0 to 32")
        return self


class UrldecodeFilter(CommonFilterOptions):
    """Decode `%XX` escapes of a field (or of every field), as Logstash's urldecode does (`+` stays `+`)."""

    field: str = Field(names.FIELD_MESSAGE, description="Field decoded.", examples=["request"])
    all_fields: bool = Field(
        False, description="Decode every top-level field (lists and objects within).", examples=[True]
    )
    charset: str = Field(
        "UTF-8", description="Encoding of the escaped bytes; invalid bytes become U+FFFD.", examples=["ISO-8859-1"]
    )
    tag_on_failure: list[str] = Field(
        [names.TAG_URLDECODE_FAILURE], description="Tags added when decoding fails.", examples=[["_urldecodefailure"]]
    )

    @field_validator("charset")
    @classmethod
    def _known_charset(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError as exc:
            raise ValueError(f"unknown charset {value!r}") from exc
        return value


SYSLOG_FACILITIES = [
    "kernel",
    "user-level",
    "mail",
    "daemon",
    "security/authorization",
    "syslogd",
    "line printer",
    "network news",
    "uucp",
    "clock",
    "security/authorization",
    "ftp",
    "ntp",
    "log audit",
    "log alert",
    "clock",
    "local0",
    "local1",
    "local2",
    "local3",
    "local4",
    "local5",
    "local6",
    "local7",
]
SYSLOG_SEVERITIES = ["emergency", "alert", "critical", "error", "warning", "notice", "informational", "debug"]


class SyslogPriFilter(CommonFilterOptions):
    """Split a syslog priority (`<13>` -> 13) into facility and severity, with their names.

    Classic layout: `syslog_facility_code`, `syslog_severity_code`, `syslog_facility`, `syslog_severity`; ECS:
    `[log][syslog][facility][code|name]`, `[log][syslog][severity][code|name]`. A missing priority counts as 13
    (user-level notice), as in Logstash; a facility past the labels is tagged `_syslogpriparsefailure`.
    """

    syslog_pri_field_name: str | None = Field(
        None,
        description="Field holding the priority. Unset: `syslog_pri` (classic) or `[log][syslog][priority]` (ECS).",
        examples=["pri"],
    )
    use_labels: bool = Field(True, description="Add the facility and severity names.", examples=[False])
    facility_labels: list[str] = Field(
        default_factory=lambda: list(SYSLOG_FACILITIES),
        description="Facility names by code.",
        examples=[SYSLOG_FACILITIES[:3]],
    )
    severity_labels: list[str] = Field(
        default_factory=lambda: list(SYSLOG_SEVERITIES),
        description="Severity names by code.",
        examples=[SYSLOG_SEVERITIES[:3]],
    )
    ecs_compatibility: EcsCompatibility = Field(
        "disabled", description="Field layout: `disabled` (classic) or `v1`/`v8` (ECS).", examples=["v8"]
    )
