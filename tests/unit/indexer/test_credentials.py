"""Credentials reach the client and nothing else: not reprs, not logs."""

from __future__ import annotations

import asyncio
import logging

import certifi
import pytest

from streamstash.config import parse_pipeline
from streamstash.search.client import describe, log_connection, make_client, redact_url

PASSWORD = "hunter2-pw-7c1f"
API_KEY = "a2V5aWQ6c2VjcmV0LWFwaS1rZXk="
URL_PASSWORD = "url-pw-99ab"

PIPELINE = f"""
elasticsearch:
  hosts: ["https://elastic:{URL_PASSWORD}@es01:9200", "https://es02:9200"]
  username: elastic
  password: {PASSWORD}
  ca_file: {certifi.where()}
"""


def test_settings_repr_hides_secrets() -> None:
    settings = parse_pipeline(PIPELINE + f"  api_key: {API_KEY}\n", env={}).elasticsearch
    for text in (repr(settings), str(settings), repr(settings.model_dump())):
        assert PASSWORD not in text
        assert API_KEY not in text


def test_connection_log_names_auth_kind_but_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    settings = parse_pipeline(PIPELINE, env={}).elasticsearch
    with caplog.at_level(logging.DEBUG):
        log_connection(settings, "indexer")
        asyncio.run(make_client(settings).close())
    text = caplog.text + repr([record.__dict__ for record in caplog.records])
    assert PASSWORD not in text and URL_PASSWORD not in text
    facts = describe(settings)
    assert facts["auth"] == "basic" and facts["user"] == "elastic"
    assert facts["hosts"] == ["https://es01:9200", "https://es02:9200"]
    assert facts["verify_certs"] is True  # on unless switched off


def test_api_key_wins_over_basic_auth_and_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    settings = parse_pipeline(PIPELINE + f"  api_key: {API_KEY}\n", env={}).elasticsearch
    with caplog.at_level(logging.DEBUG):
        log_connection(settings, "indexer")
    assert describe(settings)["auth"] == "api_key"
    assert API_KEY not in caplog.text and PASSWORD not in caplog.text
    assert API_KEY not in repr([record.__dict__ for record in caplog.records])


def test_client_gets_the_credentials_and_tls_options() -> None:
    settings = parse_pipeline(PIPELINE + f"  api_key: {API_KEY}\n", env={}).elasticsearch.model_copy(
        update={"hosts": ["https://es01:9200"], "ca_file": None}
    )
    client = make_client(settings)
    try:
        headers = client._headers
        assert headers["authorization"] == f"ApiKey {API_KEY}"
    finally:
        asyncio.run(client.close())


def test_verify_off_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    settings = parse_pipeline(
        "elasticsearch:\n  hosts: [https://es:9200]\n  verify_certs: false\n", env={}
    ).elasticsearch
    with caplog.at_level(logging.INFO):
        log_connection(settings, "indexer")
    assert "verification is off" in caplog.text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@es:9200", "https://es:9200"),
        ("https://user@es:9200/prefix", "https://es:9200/prefix"),
        ("http://es:9200", "http://es:9200"),
        ("es:9200", "es:9200"),
        ("user:pw@es:9200", "es:9200"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
