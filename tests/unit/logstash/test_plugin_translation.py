"""import-logstash for the beats input and the geoip, useragent, translate, csv, fingerprint, urldecode and syslog_pri
filters: Logstash's options become ours, and the translated filters do to an event what Logstash's would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamstash.events.envelope import Event, Source, to_working_dict
from streamstash.filters import FilterChain
from streamstash.logstash.command import validate
from streamstash.logstash.emit import render_yaml
from streamstash.logstash.parser import parse_text
from streamstash.logstash.translator import translate
from tests.helpers.geoip import write_city_database
from tests.unit.logstash.helpers import findings, translated


def run(filters: str, **fields: Any) -> dict[str, Any]:
    config, _, _ = translated("filter {\n" + filters + "\n}")
    message = fields.pop("message", None)
    doc = to_working_dict(Event(message=message, source=Source(kind="file"), fields=fields))
    assert FilterChain(config.filters).apply(doc) is None
    return doc


def test_beats_input_with_logstash_tls_options_old_and_new() -> None:
    config, translation, _ = translated(
        'input { beats { port => 5045 ssl => true ssl_certificate => "/etc/pki/logstash.crt" '
        'ssl_key => "/etc/pki/logstash.key" ssl_verify_mode => "force_peer" '
        'ssl_certificate_authorities => ["/etc/pki/ca.crt"] ssl_handshake_timeout => 20000 '
        'client_inactivity_timeout => 120 add_hostname => false type => "filebeat" } }'
    )
    (beats,) = config.inputs
    assert (beats.type, beats.port, beats.host) == ("beats", 5045, "0.0.0.0")
    assert beats.ssl_enabled and str(beats.ssl_certificate) == "/etc/pki/logstash.crt"
    assert beats.ssl_client_authentication == "required" and beats.ssl_handshake_timeout == 20
    assert beats.client_inactivity_timeout == 120 and beats.add_fields == {"type": "filebeat"}
    assert [severity for severity, _, _ in findings(translation.report)] == ["note"]  # add_hostname
    config, _, _ = translated(
        'input { beats { port => 5044 ssl_enabled => true ssl_certificate => "c" ssl_key => "k" '
        'ssl_client_authentication => "optional" ssl_certificate_authorities => "ca" } }'
    )
    assert config.inputs[0].ssl_client_authentication == "optional"


def test_beats_input_reports_what_it_cannot_take() -> None:
    config, translation, yaml_text = translated("input { beats { port => 5044 tls_min_version => 1.2 } }")
    assert config.inputs[0].type == "beats"
    assert [subject for _, _, subject in findings(translation.report)] == ["input beats option tls_min_version"]
    assert "UNTRANSLATED" in yaml_text


def test_translate_with_old_option_names_behaves_like_logstash() -> None:
    filters = (
        'translate { field => "response" destination => "status" '
        'dictionary => { "200" => "OK" "404" => "Not Found" } fallback => "other %{response}" }'
    )
    assert run(filters, response="404")["status"] == "Not Found"
    assert run(filters, response="500")["status"] == "other 500"
    assert run(filters, response="200", status="kept")["status"] == "kept"  # override defaults to false
    regex = 'translate { source => "[url]" target => "kind" regex => true dictionary => ["^/api/", "api", "\\.css$", "css"] }'
    assert run(regex, url="/static/a.css")["kind"] == "css"


def test_csv_fingerprint_urldecode_syslog_pri_useragent() -> None:
    doc = run(
        'csv { columns => ["ip", "bytes"] separator => ";" convert => { "bytes" => "integer" } } '
        'fingerprint { source => ["ip", "bytes"] concatenate_sources => true method => "SHA256" '
        'target => "[@metadata][fp]" } '
        'urldecode { field => "path" } '
        'syslog_pri { syslog_pri_field_name => "pri" } '
        'useragent { source => "ua" target => "browser" }',
        message="10.1.2.3;512",
        path="/a%20b",
        pri="165",
        ua="curl/8.4.0",
    )
    assert (doc["ip"], doc["bytes"]) == ("10.1.2.3", 512)
    assert len(doc["@metadata"]["fp"]) == 64
    assert doc["path"] == "/a b"
    assert (doc["syslog_facility"], doc["syslog_severity"]) == ("local4", "notice")
    assert doc["browser"]["name"] == "curl" and doc["browser"]["version"] == "8.4.0"


def test_geoip_translation_and_its_database(tmp_path: Path) -> None:
    database = write_city_database(tmp_path / "GeoLite2-City.mmdb")
    doc = run(
        f'geoip {{ source => "clientip" database => "{database}" fields => ["city_name", "location"] }}',
        clientip="81.2.69.160",
    )
    assert doc["geoip"] == {"city_name": "Berlin", "location": {"lat": 52.5244, "lon": 13.4105}}
    _, translation, _ = translated(
        'filter { geoip { source => "[source][ip]" target => "source" } }'.replace(
            "geoip {", f'geoip {{ database => "{database}"'
        )
    )
    assert findings(translation.report) == []


def test_missing_database_on_this_machine_is_not_a_translation_bug() -> None:
    # Logstash's host has the file, this one does not: the translation stands, checking it needs the file.
    translation = translate(
        parse_text('filter { geoip { source => "ip" database => "/nowhere/City.mmdb" } }', "t.conf")
    )
    problem, missing = validate(render_yaml(translation), translation)
    assert problem is not None and "/nowhere/City.mmdb" in problem
    assert "/nowhere/City.mmdb" in missing
    translation = translate(parse_text('filter { geoip { source => "ip" } }', "t.conf"))
    assert [severity for severity, _, _ in findings(translation.report)] == ["note"]  # Logstash ships a database
