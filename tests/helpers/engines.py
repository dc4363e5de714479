"""Running a test against each search engine: the noida-db stand-in and a real OpenSearch node.

A test module imports the two fixtures below; named ``servers`` and ``es``, they override the session
fixtures of those names with ones parametrised per engine, so the module's tests run once against the
OpenSearch stack (``opensearch_servers``, started once per run) and once against the stand-in
(``standin_servers``). One test can keep to one engine with
``@pytest.mark.parametrize("servers", ["standin"], indirect=True)``::

    from tests.helpers.engines import es_of_each_engine, servers_of_each_engine  # noqa: F401

The services a test starts are told the distribution through STREAMSTASH_ELASTICSEARCH_DISTRIBUTION, which
they inherit, as `streamstash run` tells them with --elasticsearch-distribution.
"""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy import OpenSearch

from streamstash import names
from tests.conftest import Servers

ENGINES = ("opensearch", "standin")

# For the longest outage, kill and replay tests: what they check is the indexer's, and a real OpenSearch node
# shows it; the stand-in's run repeats it and goes with the slow tests (`make test-all`), to keep the default
# suite short.
opensearch_by_default = pytest.mark.parametrize(
    "servers", ["opensearch", pytest.param("standin", marks=pytest.mark.slow)], indirect=True
)

# What each engine calls a document that does not fit the mapping (Elasticsearch 8 renamed OpenSearch's
# and Elasticsearch 7's mapper_parsing_exception; the stand-in answers as Elasticsearch 8 does).
MAPPING_ERROR = {"standin": "document_parsing_exception", "opensearch": "mapper_parsing_exception"}


@pytest.fixture(name="servers", params=ENGINES)
def servers_of_each_engine(
    request: pytest.FixtureRequest, standin_servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> Servers:
    servers = standin_servers  # or those from the environment
    if servers.search == "external":
        if request.param == "opensearch":
            pytest.skip("servers from the environment run one search engine: the run under `standin` uses it")
        chosen = servers
    elif request.param == "opensearch":
        chosen = request.getfixturevalue("opensearch_servers")
    else:
        chosen = servers
    monkeypatch.setenv(names.ENV_ELASTICSEARCH_DISTRIBUTION, chosen.distribution)
    return chosen


@pytest.fixture(name="es")
def es_of_each_engine(request: pytest.FixtureRequest, servers: Servers) -> Any:
    """A synchronous client of the engine: Elasticsearch's for the stand-in, opensearch-py's for OpenSearch.
    tests/helpers/elastic.py reads through either."""
    if servers.search == "opensearch":
        return request.getfixturevalue("opensearch_client")
    if servers.distribution == "opensearch":  # servers from the environment
        client = OpenSearch(servers.elasticsearch, timeout=30)
        request.addfinalizer(client.close)
        return client
    return request.getfixturevalue("elasticsearch_client")
