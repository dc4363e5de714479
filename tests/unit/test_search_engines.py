"""Both search engines behind SearchEngine: the same errors, the same bulk results, from each real client.

A small aiohttp server on loopback answers as Elasticsearch (its product header) or as OpenSearch (its
`version.distribution`), so what is tested is each client library's own request and error handling.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from streamstash.config.common import ElasticsearchSettings
from streamstash.search.client import make_engine, make_opensearch_client
from streamstash.search.engine import SearchApiError, SearchConnectionError, SearchEngine, WrongProductError
from streamstash.search.opensearch import OrjsonSerializer
from streamstash.services.indexer.bulk import RESPONSE_FILTER, BulkWriter, ItemResult, RetryPolicy
from streamstash.services.indexer.documents import Action
from streamstash.stack.ports import free_port

ENGINES = ("elasticsearch", "opensearch")
PRODUCT_HEADER = {"X-Elastic-Product": "Elasticsearch"}


@dataclass
class FakeEngine:
    """Answers as ``product``; `_bulk` answers come from ``bulk_answers`` in turn (status, body)."""

    product: str
    bulk_answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bulk_queries: list[dict[str, str]] = field(default_factory=list)
    bulk_bodies: list[bytes] = field(default_factory=list)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    alias_actions: list[dict[str, Any]] = field(default_factory=list)
    templates: dict[str, Any] = field(default_factory=dict)
    legacy_templates: dict[str, Any] = field(default_factory=dict)

    def respond(self, status: int, body: dict[str, Any]) -> web.Response:
        headers = PRODUCT_HEADER if self.product == "elasticsearch" else {}
        return web.json_response(body, status=status, headers=headers)

    async def root(self, request: web.Request) -> web.Response:
        version: dict[str, Any] = {"number": "8.15.0" if self.product == "elasticsearch" else "2.19.6"}
        if self.product == "opensearch":
            version["distribution"] = "opensearch"
        return self.respond(200, {"name": "fake", "version": version})

    async def bulk(self, request: web.Request) -> web.Response:
        self.bulk_queries.append(dict(request.query))
        self.bulk_bodies.append(await request.read())
        status, body = self.bulk_answers.pop(0)
        return self.respond(status, body)

    async def template(self, request: web.Request) -> web.Response:
        self.templates[request.match_info["name"]] = await request.json()
        return self.respond(200, {"acknowledged": True})

    async def legacy_template(self, request: web.Request) -> web.Response:
        self.legacy_templates[request.match_info["name"]] = await request.json()
        return self.respond(200, {"acknowledged": True})

    async def template_exists(self, request: web.Request) -> web.Response:
        store = self.legacy_templates if request.path.startswith("/_template/") else self.templates
        return self.respond(200 if request.match_info["name"] in store else 404, {})

    async def get_alias(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.aliases:
            return self.respond(404, {"error": f"alias [{name}] missing", "status": 404})
        return self.respond(200, {index: {"aliases": {name: {}}} for index in self.aliases[name]})

    async def update_aliases(self, request: web.Request) -> web.Response:
        self.alias_actions.extend((await request.json())["actions"])
        return self.respond(200, {"acknowledged": True})


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[tuple[FakeEngine, str]]:
    fake = FakeEngine(request.param)
    app = web.Application()
    app.router.add_get("/", fake.root)
    app.router.add_route("*", "/_bulk", fake.bulk)  # the Elasticsearch client PUTs, opensearch-py POSTs
    app.router.add_put("/_index_template/{name}", fake.template)
    app.router.add_put("/_template/{name}", fake.legacy_template)
    app.router.add_head("/_index_template/{name}", fake.template_exists)
    app.router.add_head("/_template/{name}", fake.template_exists)
    app.router.add_get("/_alias/{name}", fake.get_alias)
    app.router.add_post("/_aliases", fake.update_aliases)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def engine_for(url: str, distribution: str) -> SearchEngine:
    return make_engine(ElasticsearchSettings(hosts=[url], distribution=distribution, request_timeout_s=5))


def action(n: int) -> Action:
    return Action(index="logs", id=f"id-{n}", document={"n": n}, event=None)  # type: ignore[arg-type]


def item(status: int, result: str | None = None, error: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": status}
    if result:
        entry["result"] = result
    if error:
        entry["error"] = error
    return {"index": entry}


both = pytest.mark.parametrize("served", ENGINES, indirect=True)


@both
async def test_bulk_sends_the_ndjson_and_the_response_filter(served: tuple[FakeEngine, str]) -> None:
    fake, url = served
    fake.bulk_answers.append((200, {"errors": False, "items": [item(201, "created")]}))
    engine = engine_for(url, fake.product)
    try:
        body = await engine.bulk(action(1).body, RESPONSE_FILTER)
    finally:
        await engine.close()
    assert body == {"errors": False, "items": [item(201, "created")]}
    assert fake.bulk_bodies == [action(1).body]
    assert fake.bulk_queries[0]["filter_path"].split(",") == RESPONSE_FILTER


@both
@pytest.mark.parametrize("status", [429, 413, 503, 400, 401])
async def test_an_error_status_is_a_search_api_error_with_that_status(
    served: tuple[FakeEngine, str], status: int
) -> None:
    fake, url = served
    fake.bulk_answers.append((status, {"error": {"type": "some_exception", "reason": "no"}, "status": status}))
    engine = engine_for(url, fake.product)
    try:
        with pytest.raises(SearchApiError) as raised:
            await engine.bulk(action(1).body, RESPONSE_FILTER)
    finally:
        await engine.close()
    assert raised.value.status == status


@pytest.mark.parametrize("distribution", ENGINES)
async def test_nobody_listening_is_a_connection_error(distribution: str) -> None:
    engine = engine_for(f"http://127.0.0.1:{free_port()}", distribution)
    try:
        with pytest.raises(SearchConnectionError):
            await engine.bulk(action(1).body, RESPONSE_FILTER)
        assert await engine.ping() is False
    finally:
        await engine.close()


@pytest.mark.parametrize(
    ("served", "configured"), [("opensearch", "elasticsearch"), ("elasticsearch", "opensearch")], indirect=["served"]
)
async def test_the_other_product_is_refused_with_what_to_set(served: tuple[FakeEngine, str], configured: str) -> None:
    fake, url = served
    engine = engine_for(url, configured)
    try:
        with pytest.raises(WrongProductError, match=f"elasticsearch.distribution: {fake.product}"):
            await engine.verify()
    finally:
        await engine.close()


@both
async def test_verify_reads_the_version(served: tuple[FakeEngine, str]) -> None:
    fake, url = served
    engine = engine_for(url, fake.product)
    try:
        version = await engine.verify()
    finally:
        await engine.close()
    assert version["number"] == ("2.19.6" if fake.product == "opensearch" else "8.15.0")


@both
async def test_template_and_aliases(served: tuple[FakeEngine, str]) -> None:
    fake, url = served
    fake.aliases["current"] = ["logs-b", "logs-a"]
    engine = engine_for(url, fake.product)
    try:
        await engine.put_index_template("streamstash-logs", {"index_patterns": ["logs-*"], "_meta": {"x": 1}})
        assert await engine.alias_indices("current") == ["logs-a", "logs-b"]
        assert await engine.alias_indices("missing") == []
        await engine.update_aliases([{"add": {"index": "logs-c", "alias": "current"}}])
    finally:
        await engine.close()
    assert fake.templates["streamstash-logs"] == {"index_patterns": ["logs-*"], "_meta": {"x": 1}}
    assert fake.alias_actions == [{"add": {"index": "logs-c", "alias": "current"}}]


@both
async def test_legacy_templates_and_whether_a_template_exists(served: tuple[FakeEngine, str]) -> None:
    fake, url = served
    engine = engine_for(url, fake.product)
    try:
        assert not await engine.template_exists("web")
        await engine.put_index_template("web", {"index_patterns": ["web-*"], "mappings": {}}, legacy=True)
        assert await engine.template_exists("web", legacy=True)
        assert not await engine.template_exists("web")  # the composable one is another template
    finally:
        await engine.close()
    assert fake.legacy_templates == {"web": {"index_patterns": ["web-*"], "mappings": {}}}


@both
async def test_the_bulk_writer_retries_429s_and_dead_letters_refusals_on_either_engine(
    served: tuple[FakeEngine, str],
) -> None:
    fake, url = served
    throttled = {"type": "es_rejected_execution_exception", "reason": "rejected execution"}
    refused = {"type": "mapper_parsing_exception", "reason": "failed to parse field [response]"}
    fake.bulk_answers += [
        (429, {"error": throttled, "status": 429}),  # the whole request
        (200, {"errors": True, "items": [item(201, "created"), item(429, error=throttled), item(400, error=refused)]}),
        (200, {"errors": False, "items": [item(201, "created")]}),
    ]
    engine = engine_for(url, fake.product)
    try:
        outcome = await BulkWriter(engine, RetryPolicy(initial_s=0.001, max_s=0.01)).write(
            [action(n) for n in range(3)]
        )
    finally:
        await engine.close()
    assert [a.id for a in outcome.settled] == ["id-0", "id-1"]
    assert [(a.id, reason) for a, reason in outcome.rejected] == [
        ("id-2", "mapper_parsing_exception: failed to parse field [response]")
    ]
    assert outcome.results[ItemResult.RETRY] == 1
    assert fake.bulk_bodies[2] == action(1).body  # only the throttled item was sent again


def test_opensearch_client_gets_basic_auth_tls_and_no_retries_of_its_own() -> None:
    settings = ElasticsearchSettings(
        hosts=["https://os01:9200", "https://os02:9200"],
        distribution="opensearch",
        username="admin",
        password="s3cret-pw",
        verify_certs=False,
    )
    client = make_opensearch_client(settings)
    transport = client.transport
    assert transport.max_retries == 0
    assert transport.retry_on_timeout is False
    assert [host["host"] for host in transport.hosts] == ["os01", "os02"]
    assert all(host["use_ssl"] for host in transport.hosts)
    assert transport.kwargs["http_auth"] == ("admin", "s3cret-pw")
    assert transport.kwargs["verify_certs"] is False


def test_ilm_policies_are_refused_for_opensearch_with_what_to_do() -> None:
    from streamstash.config.indexer import ElasticsearchOutput
    from streamstash.services.indexer.template import refused_by_opensearch

    assert refused_by_opensearch(ElasticsearchOutput()) is None
    assert "Index State Management" in (refused_by_opensearch(ElasticsearchOutput(ilm_policy="logs-30d")) or "")


def test_opensearch_has_no_api_keys() -> None:
    with pytest.raises(ValueError, match="OpenSearch has none"):
        ElasticsearchSettings(hosts=["http://os:9200"], distribution="opensearch", api_key="a2V5OnNlY3JldA==")


def test_orjson_serializer_round_trips_what_opensearch_py_sends() -> None:
    serializer = OrjsonSerializer()
    assert serializer.loads(b'{"a":[1,2.5,"x"]}') == {"a": [1, 2.5, "x"]}
    assert json.loads(serializer.dumps({"actions": [{"add": {"index": "i"}}]})) == {
        "actions": [{"add": {"index": "i"}}]
    }
    assert serializer.dumps(b"already\nencoded\n") == b"already\nencoded\n"


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [
        ("http://es01:9200,http://es02:9200", ["http://es01:9200", "http://es02:9200"]),
        (["http://es01:9200, http://es02:9200", "http://es03:9200"], [f"http://es0{n}:9200" for n in (1, 2, 3)]),
        ([""], None),
        (["http://es01:9200,"], ["http://es01:9200"]),
    ],
)
def test_hosts_are_split_on_commas_alone_or_inside_the_list(hosts: object, expected: list[str] | None) -> None:
    assert ElasticsearchSettings(hosts=hosts).hosts == expected  # type: ignore[arg-type]
