"""Small MaxMind DB files written by the tests (mmdb-writer), shaped like GeoLite2 City and ASN."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

BERLIN = {
    "city": {"geoname_id": 2950159, "names": {"en": "Berlin", "de": "Berlin"}},
    "continent": {"code": "EU", "geoname_id": 6255148, "names": {"en": "Europe"}},
    "country": {"geoname_id": 2921044, "iso_code": "DE", "names": {"en": "Germany"}},
    "location": {"accuracy_radius": 10, "latitude": 52.5244, "longitude": 13.4105, "time_zone": "Europe/Berlin"},
    "postal": {"code": "10178"},
    "subdivisions": [{"geoname_id": 2950157, "iso_code": "BE", "names": {"en": "Land Berlin"}}],
}
COUNTRY_ONLY = {  # a record without a location: Logstash counts it as no result
    "continent": {"code": "EU", "names": {"en": "Europe"}},
    "country": {"iso_code": "FR", "names": {"en": "France"}},
}
SEATTLE_V6 = {
    "city": {"names": {"en": "Seattle"}},
    "continent": {"code": "NA", "names": {"en": "North America"}},
    "country": {"iso_code": "US", "names": {"en": "United States"}},
    "location": {"latitude": 47.6, "longitude": -122.3, "metro_code": 819, "time_zone": "America/Los_Angeles"},
    "subdivisions": [{"iso_code": "WA", "names": {"en": "Washington"}}],
}


def write_city_database(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True, languages=["en"])
    writer.insert_network(IPSet(["81.2.69.0/24"]), BERLIN)
    writer.insert_network(IPSet(["2.125.160.0/20"]), COUNTRY_ONLY)
    writer.insert_network(IPSet(["2001:db8:100::/48"]), SEATTLE_V6)
    writer.to_db_file(str(path))
    return path


def write_asn_database(path: Path) -> Path:
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    writer.insert_network(
        IPSet(["1.128.0.0/11"]), {"autonomous_system_number": 1221, "autonomous_system_organization": "Telstra"}
    )
    writer.to_db_file(str(path))
    return path
