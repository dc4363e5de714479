"""The geoip filter: an IP address looked up in a MaxMind DB, written in Logstash's classic or ECS layout.

The database is read with `maxminddb` (its C extension, memory-mapped); the database type in the file's
metadata (City, Country, ASN, ISP, Domain, Anonymous-IP, Enterprise) picks which record fields are read, as in
Logstash. Results are kept per address text in an LRU cache of `cache_size` (Logstash's default 1000), so the
common repeat visitor costs a dict lookup; the event gets a fresh copy.
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from typing import Any

import maxminddb

from streamstash.config.plugin_filters import GeoipFilter as GeoipSettings
from streamstash.events.fieldpath import get_field
from streamstash.filters.base import Decorations, FilterResourceError, Verdict, add_tags
from streamstash.filters.nested import Tree, tree_of, write_tree

DATABASE_DIRS = (Path("/usr/share/GeoIP"), Path("/var/lib/GeoIP"), Path("/usr/local/share/GeoIP"))

# Logstash's field name -> (ECS path under the target, classic name); "" = not written in ECS.
FIELDS: dict[str, tuple[str, str]] = {
    "asn": ("as.number", "asn"),
    "as_org": ("as.organization.name", "as_org"),
    "city_name": ("geo.city_name", "city_name"),
    "country_name": ("geo.country_name", "country_name"),
    "continent_code": ("geo.continent_code", "continent_code"),
    "continent_name": ("geo.continent_name", "continent_name"),
    "country_code2": ("geo.country_iso_code", "country_code2"),
    "country_code3": ("", "country_code3"),
    "domain": ("domain", "domain"),
    "ip": ("ip", "ip"),
    "isp": ("mmdb.isp", "isp"),
    "postal_code": ("geo.postal_code", "postal_code"),
    "dma_code": ("mmdb.dma_code", "dma_code"),
    "region_name": ("geo.region_name", "region_name"),
    "region_code": ("geo.region_code", "region_code"),
    "region_iso_code": ("geo.region_iso_code", "region_iso_code"),
    "timezone": ("geo.timezone", "timezone"),
    "location": ("geo.location", "location"),
    "latitude": ("geo.location.lat", "latitude"),
    "longitude": ("geo.location.lon", "longitude"),
    "organization": ("mmdb.organization", "organization"),
    "network": ("ip_traits.network", "network"),
    "hosting_provider": ("ip_traits.hosting_provider", "hosting_provider"),
    "tor_exit_node": ("ip_traits.tor_exit_node", "tor_exit_node"),
    "anonymous_vpn": ("ip_traits.anonymous_vpn", "anonymous_vpn"),
    "anonymous": ("ip_traits.anonymous", "anonymous"),
    "public_proxy": ("ip_traits.public_proxy", "public_proxy"),
    "residential_proxy": ("ip_traits.residential_proxy", "residential_proxy"),
}
_CITY = [
    "ip",
    "city_name",
    "continent_code",
    "country_name",
    "country_code2",
    "country_code3",
    "postal_code",
    "dma_code",
    "region_name",
    "region_iso_code",
    "timezone",
    "location",
    "latitude",
    "longitude",
]
_TRAITS = ["hosting_provider", "tor_exit_node", "anonymous_vpn", "anonymous", "public_proxy", "residential_proxy"]
# Database kind (matched in the metadata's database_type, in this order) -> the fields it gives by default.
DEFAULT_FIELDS: dict[str, list[str]] = {
    "City": _CITY,
    "Country": ["ip", "country_code2", "country_name", "continent_name"],
    "Domain": ["domain"],
    "ASN": ["ip", "asn", "as_org"],
    "ISP": ["ip", "asn", "as_org", "isp", "organization"],
    "Enterprise": [
        "ip",
        "country_code2",
        "country_name",
        "continent_name",
        "region_iso_code",
        "region_name",
        "city_name",
        "location",
    ],
    "Anonymous-IP": _TRAITS,
}


class GeoipDatabaseError(FilterResourceError):
    """No usable database: the parser stops with this reason rather than tag every event."""


def database_kind(database_type: str) -> str:
    for kind in ("City", "Country", "Domain", "ASN", "ISP", "Enterprise", "Anonymous-IP"):
        if kind in database_type:
            return kind
    raise ValueError(f"geoip: database type {database_type!r} is not one the geoip filter reads")


def find_database(settings: GeoipSettings) -> Path:
    if settings.database is not None:
        return settings.database
    name = f"GeoLite2-{settings.default_database_type}.mmdb"
    for directory in DATABASE_DIRS:
        if (directory / name).is_file():
            return directory / name
    raise GeoipDatabaseError(
        f"geoip: no `database` set and no {name} in {', '.join(map(str, DATABASE_DIRS))}; "
        "download it from MaxMind (geoipupdate) and set `database`",
        name,
    )


def _name(record: dict[str, Any], key: str) -> str | None:
    names = (record.get(key) or {}).get("names") or {}
    return names.get("en")


def extract(kind: str, record: dict[str, Any], address: str, prefix_len: int) -> dict[str, Any]:
    """Logstash's field name -> value, for every field the record has."""
    values: dict[str, Any] = {"ip": address}
    if kind in ("City", "Country", "Enterprise"):
        country = record.get("country") or {}
        continent = record.get("continent") or {}
        location = record.get("location") or {}
        subdivisions = record.get("subdivisions") or [{}]
        subdivision = subdivisions[-1]  # the most specific one, as MaxMind's readers pick
        candidates = {
            "city_name": _name(record, "city"),
            "continent_code": continent.get("code"),
            "continent_name": _name(record, "continent"),
            "country_name": _name(record, "country"),
            "country_code2": country.get("iso_code"),
            "country_code3": country.get("iso_code"),  # Logstash too writes the 2-letter code here
            "postal_code": (record.get("postal") or {}).get("code"),
            "dma_code": location.get("metro_code"),
            "region_name": (subdivision.get("names") or {}).get("en"),
            "region_code": subdivision.get("iso_code"),
            "region_iso_code": (
                f"{country['iso_code']}-{subdivision['iso_code']}"
                if country.get("iso_code") and subdivision.get("iso_code")
                else None
            ),
            "timezone": location.get("time_zone"),
            "latitude": location.get("latitude"),
            "longitude": location.get("longitude"),
        }
        if location.get("latitude") is not None and location.get("longitude") is not None:
            candidates["location"] = {"lat": location["latitude"], "lon": location["longitude"]}
        values.update({key: value for key, value in candidates.items() if value is not None})
    traits = record.get("traits") or {}
    asn = record.get("autonomous_system_number", traits.get("autonomous_system_number"))
    organization = record.get("autonomous_system_organization", traits.get("autonomous_system_organization"))
    network_fields = (
        ("asn", asn),
        ("as_org", organization),
        ("isp", record.get("isp")),
        ("organization", record.get("organization")),
        ("domain", record.get("domain")),
    )
    values.update((key, value) for key, value in network_fields if value is not None)
    if kind in ("ASN", "Enterprise"):
        values["network"] = str(ipaddress.ip_network(f"{address}/{prefix_len}", strict=False))
    if kind in ("Anonymous-IP", "Enterprise"):
        source = record if kind == "Anonymous-IP" else traits
        for trait in _TRAITS:
            values[trait] = bool(source.get(f"is_{trait}", False))
    return values


class GeoipFilter:
    def __init__(self, settings: GeoipSettings) -> None:
        self.settings = settings
        path = find_database(settings)
        try:
            self.reader = maxminddb.open_database(str(path))
        except (OSError, maxminddb.InvalidDatabaseError) as exc:
            raise GeoipDatabaseError(f"geoip: database {str(path)!r} cannot be read: {exc}", str(path)) from exc
        self.kind = database_kind(self.reader.metadata().database_type)
        ecs = settings.ecs_compatibility
        source = settings.source
        if ecs is None:
            ecs = "v8" if source.endswith("[ip]") and len(source) > 4 else "disabled"
        self.ecs = ecs != "disabled"
        if settings.target is not None:
            target = settings.target
        elif self.ecs:
            if not (source.endswith("[ip]") and len(source) > 4):
                raise ValueError("geoip: in ECS mode `target` is needed unless the source is an `[...][ip]` field")
            target = source[:-4]
        else:
            target = "geoip"
        self.base = target if target.startswith("[") else f"[{target}]"
        wanted = settings.fields or DEFAULT_FIELDS[self.kind]
        if not settings.fields and self.kind == "City" and not self.ecs:
            wanted = [("region_code" if field == "region_iso_code" else field) for field in wanted]
        self.wanted = wanted
        self.lookup = (
            functools.lru_cache(maxsize=settings.cache_size)(self._lookup) if settings.cache_size else self._lookup
        )
        self.decorations = Decorations(settings)

    def _reference(self, field: str) -> str | None:
        ecs_path, classic = FIELDS[field]
        path = ecs_path if self.ecs else classic
        if not path:
            return None
        return self.base + "".join(f"[{part}]" for part in path.split("."))

    def _lookup(self, text: str) -> Tree | None:
        try:
            address = str(ipaddress.ip_address(text.strip()))
            record, prefix_len = self.reader.get_with_prefix_len(address)
        except ValueError:  # not an address
            return None
        if not isinstance(record, dict):
            return None
        values = extract(self.kind, record, address, prefix_len)
        if self.kind == "City" and "latitude" not in values and "longitude" not in values:
            return None  # as Logstash: a City record without a location is no result
        fields = [(self._reference(field), values[field]) for field in self.wanted if field in values]
        found = [(reference, value) for reference, value in fields if reference is not None]
        return tree_of(found) if found else None

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        value = get_field(doc, self.settings.source)
        if isinstance(value, list):
            value = value[0] if value else None
        tree = self.lookup(value) if isinstance(value, str) and value.strip() else None
        if tree is None:
            add_tags(doc, self.settings.tag_on_failure)
            return None
        write_tree(doc, tree)
        self.decorations.apply(doc)
        return None
