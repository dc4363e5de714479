"""The geoip filter on databases the test writes: Logstash's classic and ECS layouts, failures, cache, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streamstash.config.plugin_filters import GeoipFilter as Settings
from streamstash.filters.base import FilterResourceError
from streamstash.filters.geoip import GeoipFilter
from tests.helpers.geoip import write_asn_database, write_city_database


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("geoip")
    return {
        "city": write_city_database(directory / "GeoLite2-City.mmdb"),
        "asn": write_asn_database(directory / "GeoLite2-ASN.mmdb"),
    }


def looked_up(database: Path, doc: dict[str, Any], **settings: Any) -> dict[str, Any]:
    doc.setdefault("tags", [])
    GeoipFilter(Settings(database=str(database), **settings)).apply(doc)
    return doc


def test_classic_layout_under_geoip(databases: dict[str, Path]) -> None:
    doc = looked_up(databases["city"], {"clientip": "81.2.69.160"}, source="clientip")
    assert doc["geoip"] == {
        "ip": "81.2.69.160",
        "city_name": "Berlin",
        "continent_code": "EU",
        "country_name": "Germany",
        "country_code2": "DE",
        "country_code3": "DE",
        "postal_code": "10178",
        "region_name": "Land Berlin",
        "region_code": "BE",
        "timezone": "Europe/Berlin",
        "location": {"lat": 52.5244, "lon": 13.4105},
        "latitude": 52.5244,
        "longitude": 13.4105,
    }
    assert doc["tags"] == []


def test_ecs_layout_from_an_ip_subfield(databases: dict[str, Path]) -> None:
    doc = looked_up(databases["city"], {"client": {"ip": "2001:db8:100::1"}}, source="[client][ip]")
    assert doc["client"] == {
        "ip": "2001:db8:100::1",
        "geo": {
            "city_name": "Seattle",
            "continent_code": "NA",
            "country_name": "United States",
            "country_iso_code": "US",
            "region_name": "Washington",
            "region_iso_code": "US-WA",
            "timezone": "America/Los_Angeles",
            "location": {"lat": 47.6, "lon": -122.3},
        },
        "mmdb": {"dma_code": 819},
    }


def test_chosen_fields_target_and_decorations(databases: dict[str, Path]) -> None:
    doc = looked_up(
        databases["city"],
        {"ip": ["81.2.69.1", "10.0.0.1"]},
        source="ip",
        target="[where]",
        fields=["CITY_NAME", "location"],
        add_tag=["located"],
    )
    assert doc["where"] == {"city_name": "Berlin", "location": {"lat": 52.5244, "lon": 13.4105}}
    assert doc["tags"] == ["located"]


def test_asn_database(databases: dict[str, Path]) -> None:
    doc = looked_up(databases["asn"], {"src": "1.128.0.1"}, source="src", ecs_compatibility="v8", target="source")
    assert doc["source"] == {
        "ip": "1.128.0.1",
        "as": {"number": 1221, "organization": {"name": "Telstra"}},
    }
    doc = looked_up(databases["asn"], {"src": "1.128.0.1"}, source="src", fields=["asn", "network"])
    assert doc["geoip"] == {"asn": 1221, "network": "1.128.0.0/11"}


@pytest.mark.parametrize("value", ["10.0.0.1", "2.125.160.216", "not-an-ip", "", None, 42])
def test_failures_are_tagged_and_add_nothing(databases: dict[str, Path], value: Any) -> None:
    doc = looked_up(databases["city"], {"clientip": value}, source="clientip", add_tag=["located"])
    assert doc["tags"] == ["_geoip_lookup_failure"]
    assert "geoip" not in doc


def test_cached_results_are_not_shared_between_events(databases: dict[str, Path]) -> None:
    geoip = GeoipFilter(Settings(database=str(databases["city"]), source="clientip"))
    first: dict[str, Any] = {"clientip": "81.2.69.160"}
    geoip.apply(first)
    first["geoip"]["location"]["lat"] = 0
    second: dict[str, Any] = {"clientip": "81.2.69.160"}
    geoip.apply(second)
    assert second["geoip"]["location"]["lat"] == 52.5244


def test_missing_or_unreadable_databases_stop_the_filter(tmp_path: Path) -> None:
    with pytest.raises(FilterResourceError, match="cannot be read"):
        GeoipFilter(Settings(database=str(tmp_path / "none.mmdb"), source="ip"))
    (tmp_path / "junk.mmdb").write_bytes(b"not a database")
    with pytest.raises(FilterResourceError, match="cannot be read"):
        GeoipFilter(Settings(database=str(tmp_path / "junk.mmdb"), source="ip"))
    with pytest.raises(ValueError, match="unknown geoip field"):
        Settings(source="ip", fields=["planet"])
