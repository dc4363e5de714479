from __future__ import annotations

import random

import pytest
from pydantic import ValidationError

from streamstash.config.parser import DropFilter as DropSettings
from streamstash.config.parser import FilterEntry
from streamstash.filters import FilterChain, Verdict
from streamstash.filters.drop import DropFilter


def test_drop_without_percentage_drops_every_event() -> None:
    drop = DropFilter(DropSettings())
    verdicts = [drop.apply({"message": str(number)}) for number in range(50)]
    assert all(isinstance(verdict, Verdict) and verdict.action == "drop" for verdict in verdicts)


def test_percentage_drops_about_that_share_of_events() -> None:
    drop = DropFilter(DropSettings(percentage=40), chance=random.Random(20261121).random)
    dropped = sum(drop.apply({}) is not None for _ in range(10_000))
    assert 3_800 <= dropped <= 4_200, dropped


@pytest.mark.parametrize(("draw", "dropped"), [(0.0, True), (0.3999, True), (0.4, False), (0.99, False)])
def test_percentage_compares_the_draw_with_the_share(draw: float, dropped: bool) -> None:
    verdict = DropFilter(DropSettings(percentage=40), chance=lambda: draw).apply({})
    assert (verdict is not None) is dropped
    if verdict is not None:
        assert verdict.action == "drop" and "40% sample" in verdict.reason


def test_drop_guarded_by_a_condition_drops_only_matching_events() -> None:
    chain = FilterChain(
        [FilterEntry.model_validate({"if": '[level] == "DEBUG" or "healthcheck" in [message]', "drop": {}})]
    )
    assert chain.apply({"level": "DEBUG", "message": "x", "tags": []}) == Verdict("drop", "drop filter")
    assert chain.apply({"level": "INFO", "message": "GET /healthcheck", "tags": []}) is not None
    assert chain.apply({"level": "INFO", "message": "GET /", "tags": []}) is None


def test_drop_stops_the_chain() -> None:
    chain = FilterChain(
        [
            FilterEntry.model_validate({"drop": None}),
            FilterEntry.model_validate({"mutate": {"add_tag": ["after_drop"]}}),
        ]
    )
    doc = {"message": "x", "tags": []}
    assert chain.apply(doc) is not None
    assert doc["tags"] == []


@pytest.mark.parametrize("percentage", [0, -5, 100.5])
def test_percentage_outside_0_to_100_is_a_config_error(percentage: float) -> None:
    with pytest.raises(ValidationError, match="percentage"):
        FilterEntry.model_validate({"drop": {"percentage": percentage}})
