"""The fingerprint filter gives Logstash's values: the expectations are the logstash-filter-fingerprint spec's."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from streamstash.config.plugin_filters import FingerprintFilter as Settings
from streamstash.filters.fingerprint import FingerprintFilter


def fingerprint(data: dict[str, Any], **settings: Any) -> Any:
    doc = dict(data)
    assert FingerprintFilter(Settings(**settings)).apply(doc) is None
    return doc.get(settings.get("target", "fingerprint"))


IP = {"clientip": "123.123.123.123"}


@pytest.mark.parametrize(
    ("method", "options", "expected"),
    [
        ("SHA1", {}, "3a5076c520b4b463f43806896ea0b3978d09dcae"),
        ("SHA1", {"base64encode": True}, "OlB2xSC0tGP0OAaJbqCzl40J3K4="),
        ("SHA1", {"key": "longencryptionkey"}, "fdc60acc4773dc5ac569ffb78fcb93c9630797f4"),
        ("SHA1", {"key": "longencryptionkey", "base64encode": True}, "/cYKzEdz3FrFaf+3j8uTyWMHl/Q="),
        ("SHA256", {}, "4dabcab210766e35f03e77120e6986d6e6d4752b2a9ff22980b9253d026080d8"),
        ("SHA256", {"key": "longencryptionkey"}, "345bec3eff242d53b568916c2610b3e393d885d6b96d643f38494fd74bf4a9ca"),
        ("MD5", {}, "ccdd8d3d940a01b2fb3258c059924c0d"),
        ("MD5", {"key": "longencryptionkey"}, "9336c879e305c9604a3843fc3e75948f"),
        ("MD5", {"key": "longencryptionkey", "base64encode": True}, "kzbIeeMFyWBKOEP8PnWUjw=="),
        ("MURMUR3", {}, 4013733395),
        ("MURMUR3_128", {}, "41cbc4056eed401d091dfbeabf7ea9e0"),
        ("MURMUR3_128", {"base64encode": True}, "QcvEBW7tQB0JHfvqv36p4A=="),
        ("IPV4_NETWORK", {"key": "24"}, "123.123.123.0"),
    ],
)
def test_methods_give_logstash_values(method: str, options: dict[str, Any], expected: Any) -> None:
    assert fingerprint(IP, source="clientip", method=method, **options) == expected


def test_numbers_are_hashed_as_logstash_hashes_integers() -> None:
    assert fingerprint({"clientip": 123}, source="clientip", method="MURMUR3") == 823512154
    assert fingerprint({"clientip": 123}, source="clientip", method="MURMUR3_128") == "286816c693ac410ed63e1430dcd6f6fe"
    big = {"clientip": 2148483647}
    assert fingerprint(big, source="clientip", method="MURMUR3_128") == "fdc7699a82556c8c584131f0133ee989"


def test_a_list_gives_a_list_and_several_sources_leave_the_last() -> None:
    many = {"clientip": ["123.123.123.123", "223.223.223.223"]}
    assert fingerprint(many, source="clientip") == [
        "3a5076c520b4b463f43806896ea0b3978d09dcae",
        "47bbc4e06edebbace047fed35abeceec64968b81",
    ]
    two = {"field1": "test1", "field2": "test2"}
    assert fingerprint(two, source=["field1", "field2"]) == "109f4b3c50d7b0df729d299bc6f8e9ef9066971f"


def test_concatenated_sources_and_all_fields() -> None:
    two = {"field1": "test1", "field2": "test2"}
    assert fingerprint(two, source=["field2", "field1"], concatenate_sources=True) == (
        "e3b6b71eedc656f1d29408264e8a75535db985cb"  # SHA1 of |field1|test1|field2|test2|
    )
    nested = {"field1": [{"inner_key": "🂡"}, {"1": "2"}], "field2": "🂡"}
    assert fingerprint(nested, source=["field1", "field2"], concatenate_sources=True) == (
        "d2a1c14e0c9ef137d67114db23b3f2fdbcc90d08"
    )
    event = {
        "@timestamp": "2017-07-26T14:44:27.064Z",
        "@version": "1",
        "clientip": "123.123.123.123",
        "message": "This is a test message",
        "log_level": "INFO",
        "offset": 123456789,
        "type": "test",
        "tags": [],  # the working dict's empty tags are not part of the event
        "@metadata": {"never": "hashed"},
    }
    assert fingerprint(event, concatenate_all_fields=True) == "cbf022518e97860403160ed8a41847c0db104e63"


def test_punctuation_uuid_and_targets() -> None:
    text = {
        "message": "PHP Warning:  json_encode() [<a href='function.json-encode'>function.json-encode</a>]: Invalid "
        "UTF-8 sequence in argument in /var/www/htdocs/test.php on line 233"
    }
    assert fingerprint(text, method="PUNCTUATION") == ":_()[<='.-'>.-</>]:-////."
    first, second = fingerprint({}, method="UUID"), fingerprint({}, method="UUID")
    assert len(first) == 36 and first != second
    doc = dict(IP)
    FingerprintFilter(Settings(source="clientip", ecs_compatibility="v8")).apply(doc)
    assert doc["event"]["hash"] == "3a5076c520b4b463f43806896ea0b3978d09dcae"


def test_bad_addresses_are_tagged_and_bad_keys_refused() -> None:
    doc: dict[str, Any] = {"clientip": "not an ip", "tags": []}
    FingerprintFilter(Settings(source="clientip", method="IPV4_NETWORK", key="16")).apply(doc)
    assert doc["tags"] == ["_fingerprintfailure"] and "fingerprint" not in doc
    with pytest.raises(ValidationError, match="prefix length"):
        Settings(method="IPV4_NETWORK")
    with pytest.raises(ValidationError):
        Settings(method="CRC32")
