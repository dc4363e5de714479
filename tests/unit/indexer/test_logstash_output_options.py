"""The output options Logstash configs bring: @metadata, document_id, pipeline, template files, ILM policy; and
the inputs' fields (`host`, `path`) in index names."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamstash.config import parse_pipeline
from streamstash.config.indexer import ElasticsearchOutput
from streamstash.events.envelope import Event, Source
from streamstash.events.inputfields import InputFields
from streamstash.services.indexer.documents import DocumentBuilder, IndexNamer
from streamstash.services.indexer.template import (
    TemplateFileError,
    install_template,
    template_for,
    template_to_install,
)

SOURCE = Source(kind="file", host="web1", path="/var/log/nginx/access.log", offset=7)


def event(**fields: Any) -> Event:
    return Event(
        message="line", timestamp="2026-11-21T10:00:00.000Z", source=SOURCE, fields=fields, id="logs.raw:1:2:3"
    )


def test_metadata_names_the_index_but_is_never_indexed() -> None:
    builder = DocumentBuilder(IndexNamer("%{[@metadata][target]}-%{+YYYY.MM}", "fallback"))
    action = builder.action_for(event(**{"@metadata": {"target": "Web"}, "verb": "GET"}))
    assert action.index == "web-2026.11"
    assert "@metadata" not in action.document and b"@metadata" not in action.body
    assert action.document["verb"] == "GET"
    # without the field: the fallback index, as for any missing field
    assert builder.action_for(event(verb="GET")).index == "fallback"


@pytest.mark.parametrize(
    ("ecs", "template", "expected"),
    [
        (False, "logs-%{host}-%{+YYYY}", "logs-web1-2026"),
        (False, "logs-%{path}", "logs-/var/log/nginx/access.log"),
        (True, "logs-%{[host][name]}", "logs-web1"),
        (True, "logs-%{[log][file][path]}", "logs-/var/log/nginx/access.log"),
    ],
)
def test_index_names_see_the_inputs_fields(ecs: bool, template: str, expected: str) -> None:
    builder = DocumentBuilder(IndexNamer(template, "fallback"), ecs=ecs, fields=InputFields(ecs=ecs))
    action = builder.action_for(event())
    assert action.index == expected
    assert "host" not in action.document or isinstance(action.document["host"], dict)  # a view, not stored


def test_the_events_own_host_wins_over_the_inputs() -> None:
    builder = DocumentBuilder(IndexNamer("logs-%{host}", "fallback"))
    assert builder.action_for(event(host="from-line")).index == "logs-from-line"


def test_document_id_and_pipeline_templates() -> None:
    builder = DocumentBuilder(
        IndexNamer("logs", "fallback"), document_id="%{[@metadata][fp]}", pipeline="%{[@metadata][pipeline]}"
    )
    action = builder.action_for(event(**{"@metadata": {"fp": "abc123", "pipeline": "enrich"}}))
    assert action.id == "abc123" and action.pipeline == "enrich"
    header, document, _ = action.body.split(b"\n")
    assert orjson.loads(header) == {"index": {"_index": "logs", "_id": "abc123", "pipeline": "enrich"}}
    assert b"@metadata" not in document
    # a missing field: the event keeps its own id and goes through no pipeline
    plain = builder.action_for(event())
    assert plain.id == "logs.raw:1:2:3" and plain.pipeline is None
    assert orjson.loads(plain.body.split(b"\n")[0]) == {"index": {"_index": "logs", "_id": "logs.raw:1:2:3"}}
    constant = DocumentBuilder(IndexNamer("logs", "f"), pipeline="geoip").action_for(event())
    assert constant.pipeline == "geoip" and constant.id == "logs.raw:1:2:3"


def test_ilm_policy_goes_into_the_template() -> None:
    _, body = template_for(ElasticsearchOutput(ilm_policy="logs-30d"))
    assert body["template"]["settings"]["index"]["lifecycle"] == {"name": "logs-30d"}
    _, body = template_for(ElasticsearchOutput())
    assert "lifecycle" not in body["template"]["settings"]["index"]


class FakeIndices:
    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def exists_template(self, name: str) -> bool:
        return name in self.existing

    async def exists_index_template(self, name: str) -> bool:
        return name in self.existing

    async def put_template(self, name: str, **body: Any) -> None:
        self.calls.append(("legacy", name, body))

    async def put_index_template(self, name: str, **body: Any) -> None:
        self.calls.append(("composable", name, body))


class FakeClient:
    def __init__(self, existing: set[str] | None = None) -> None:
        self.indices = FakeIndices(existing or set())


def install(output: ElasticsearchOutput, client: FakeClient) -> str:
    return asyncio.run(install_template(client, output))  # type: ignore[arg-type]


def test_template_files_composable_and_legacy(tmp_path: Path) -> None:
    composable = {"index_patterns": ["web-*"], "template": {"mappings": {"properties": {"ip": {"type": "ip"}}}}}
    legacy = {"index_patterns": ["web-*"], "mappings": {"properties": {"ip": {"type": "ip"}}}}
    for body, api in ((composable, "composable"), (legacy, "legacy")):
        path = tmp_path / f"{api}.json"
        path.write_text(json.dumps(body))
        client = FakeClient()
        assert install(ElasticsearchOutput(template_file=str(path), template_name="web"), client) == "web"
        assert client.indices.calls == [(api, "web", body)]


def test_template_overwrite_false_keeps_an_existing_template(tmp_path: Path) -> None:
    output = ElasticsearchOutput(template_name="web", template_overwrite=False)
    kept = FakeClient(existing={"web"})
    install(output, kept)
    assert kept.indices.calls == []
    fresh = FakeClient()
    install(output, fresh)
    assert [call[:2] for call in fresh.indices.calls] == [("composable", "web")]
    install(ElasticsearchOutput(template_name="web"), kept)  # overwrite is the default
    assert [call[:2] for call in kept.indices.calls] == [("composable", "web")]


def test_a_template_file_that_cannot_be_used_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateFileError, match="cannot read"):
        template_to_install(ElasticsearchOutput(template_file=str(tmp_path / "missing.json")))
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TemplateFileError, match="not JSON"):
        template_to_install(ElasticsearchOutput(template_file=str(tmp_path / "bad.json")))
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(TemplateFileError, match="not an index template"):
        template_to_install(ElasticsearchOutput(template_file=str(tmp_path / "list.json")))


def test_pipeline_file_options_load() -> None:
    config = parse_pipeline(
        "outputs:\n  elasticsearch:\n    document_id: '%{[@metadata][fp]}'\n    pipeline: enrich\n"
        "    template_file: /etc/t.json\n    template_overwrite: false\n    ilm_policy: p\n",
        "test",
        env={},
    )
    output = config.outputs.elasticsearch
    assert (output.document_id, output.pipeline, output.template_file, output.template_overwrite) == (
        "%{[@metadata][fp]}",
        "enrich",
        "/etc/t.json",
        False,
    )
