"""The Kibana saved objects kept in deploy/kibana/: they parse, their references resolve within the file, and
every field a visualization uses is mapped by our index template (read from its function now, so a change
there is caught) or emitted by an aggregation that the repository's pipelines define."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamstash import names
from streamstash.aggregation.sketches import percentile_name
from streamstash.config import parse_pipeline
from streamstash.config.indexer import ElasticsearchOutput
from streamstash.events.templates import Template
from streamstash.services.indexer.template import template_for

REPO = Path(__file__).resolve().parents[2]
KIBANA = REPO / "deploy" / "kibana"
OBJECTS_FILE = KIBANA / "saved_objects.ndjson"
# Pipelines whose aggregations may feed the dashboard.
PIPELINES = [
    *sorted((REPO / "deploy").glob("*.yml")),
    *sorted((REPO / "examples").glob("*.yml")),
    *sorted(KIBANA.glob("*.yml")),
]
# Fields of every aggregate, whatever its metrics (see streamstash/aggregation/aggregates.py).
AGGREGATE_TEXT_FIELDS = {names.FIELD_TASK_ID, names.FIELD_AGGREGATION, names.FIELD_FLUSH_REASON}
AGGREGATE_OTHER_FIELDS = {
    names.FIELD_COUNT,
    names.FIELD_AGGREGATED,
    names.FIELD_WINDOW_START,
    names.FIELD_WINDOW_END,
    names.FIELD_TIMESTAMP,
    names.FIELD_TAGS,
}
NUMERIC_AGGREGATIONS = {"avg", "sum", "min", "max", "median", "percentiles", "std_dev"}
TEXT_AGGREGATIONS = {"terms", "significant_terms", "cardinality", "top_hits"}


def load_objects() -> list[dict[str, Any]]:
    lines = [line for line in OBJECTS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def mapped_fields(properties: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Field path -> mapping type, with object properties and multi-fields (`request.text`) flattened."""
    fields: dict[str, str] = {}
    for name, mapping in properties.items():
        path = f"{prefix}{name}"
        if "properties" in mapping:
            fields.update(mapped_fields(mapping["properties"], f"{path}."))
            continue
        fields[path] = mapping.get("type", "object")
        for sub_name, sub_mapping in mapping.get("fields", {}).items():
            fields[f"{path}.{sub_name}"] = sub_mapping.get("type", "object")
    return fields


def template_for_output(output: ElasticsearchOutput) -> dict[str, Any]:
    _, body = template_for(output)
    return body["template"]["mappings"]


def strings_become_keywords(mappings: dict[str, Any]) -> bool:
    """The dynamic rule that maps a string field no property names as a keyword."""
    for rule in mappings.get("dynamic_templates", []):
        for body in rule.values():
            if body.get("match_mapping_type") == "string" and body.get("mapping", {}).get("type") == "keyword":
                return True
    return False


def emitted_fields() -> tuple[set[str], set[str]]:
    """(text fields, numeric fields) that the repository's aggregations put in their aggregates."""
    text, numeric = set(AGGREGATE_TEXT_FIELDS), set()
    for path in PIPELINES:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not tree.get("aggregations"):
            continue
        config = parse_pipeline(yaml.safe_dump({"aggregations": tree["aggregations"]}), str(path), env={})
        for spec in config.aggregations:
            text.update(reference.strip("[]").replace("][", ".") for reference in Template(spec.task_id).fields)
            for name, metric in spec.metrics.items():
                if metric.type == "percentiles":
                    numeric.update(f"{name}.{percentile_name(percent)}" for percent in metric.percents)
                elif metric.type in ("count", "sum", "avg", "min", "max", "distinct"):
                    numeric.add(name)
                else:
                    text.add(name)
    return text, numeric


OBJECTS = load_objects()
BY_KEY = {(item["type"], item["id"]): item for item in OBJECTS}


def test_every_object_is_a_saved_object() -> None:
    assert OBJECTS, "no saved objects"
    assert len(BY_KEY) == len(OBJECTS), "duplicate type/id"
    for item in OBJECTS:
        assert set(item) >= {"type", "id", "attributes", "references"}, item.get("id")
        assert item["attributes"]["title"]


def test_the_dashboard_and_both_data_views_are_there() -> None:
    kinds = [item["type"] for item in OBJECTS]
    assert kinds.count("dashboard") == 1
    titles = {item["attributes"]["title"] for item in OBJECTS if item["type"] == "index-pattern"}
    defaults = ElasticsearchOutput()
    logs_prefix = defaults.index.split("%{", 1)[0]
    aggregates_prefix = defaults.aggregate_index.split("%{", 1)[0]
    assert f"{aggregates_prefix}*" in titles
    assert any(title.startswith(f"{logs_prefix}*") and f"-{aggregates_prefix}*" in title for title in titles), titles


def test_references_resolve_within_the_file() -> None:
    for item in OBJECTS:
        for reference in item["references"]:
            assert (reference["type"], reference["id"]) in BY_KEY, (item["id"], reference)
        names_used: list[str] = []
        search = item["attributes"].get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if search:
            index_ref = json.loads(search).get("indexRefName")
            if index_ref:
                names_used.append(index_ref)
        if item["type"] == "dashboard":
            panels = json.loads(item["attributes"]["panelsJSON"])
            assert panels
            names_used += [panel["panelRefName"] for panel in panels]
            assert len({panel["panelIndex"] for panel in panels}) == len(panels)
        declared = {reference["name"] for reference in item["references"]}
        for name in names_used:
            assert name in declared, (item["id"], name)


def visualization_fields(item: dict[str, Any]) -> list[tuple[str, str]]:
    state = json.loads(item["attributes"]["visState"])
    return [(agg["type"], agg["params"]["field"]) for agg in state["aggs"] if agg.get("params", {}).get("field")]


def data_view_of(item: dict[str, Any]) -> dict[str, Any]:
    reference = next(reference for reference in item["references"] if reference["type"] == "index-pattern")
    return BY_KEY[("index-pattern", reference["id"])]


@pytest.mark.parametrize(
    "item", [item for item in OBJECTS if item["type"] == "visualization"], ids=lambda item: item["id"]
)
def test_visualization_fields_exist(item: dict[str, Any]) -> None:
    mappings = template_for_output(ElasticsearchOutput())
    mapped = mapped_fields(mappings["properties"])
    view = data_view_of(item)
    assert view["attributes"]["timeFieldName"] in mapped
    aggregates = not view["attributes"]["title"].startswith(ElasticsearchOutput().index.split("%{", 1)[0] + "*")
    text, numeric = emitted_fields()
    fields = visualization_fields(item)
    assert fields, item["id"]
    for aggregation, field in fields:
        if field in mapped:
            if aggregation in NUMERIC_AGGREGATIONS:
                assert mapped[field] in ("integer", "long", "float", "double", "scaled_float"), (field, mapped[field])
            if aggregation in TEXT_AGGREGATIONS:
                assert mapped[field] in ("keyword", "integer", "long", "boolean", "ip", "date"), (field, mapped[field])
            continue
        assert aggregates, f"{item['id']}: {field} is not mapped by the index template of the log indices"
        if aggregation in TEXT_AGGREGATIONS:
            assert field in text and strings_become_keywords(mappings), (item["id"], field)
        else:
            assert field in numeric or field in AGGREGATE_OTHER_FIELDS, (item["id"], field, sorted(numeric))
