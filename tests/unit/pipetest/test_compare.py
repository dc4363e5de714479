"""Expected against produced documents: what counts as the same, and how a difference reads."""

from __future__ import annotations

from streamstash.pipetest.compare import compare_documents, differences


def described(expected: object, got: object, mode: str = "all") -> list[str]:
    return [item.describe() for item in differences(expected, got, mode)]


def test_all_wants_exactly_the_fields_subset_only_those_expected() -> None:
    expected = {"a": 1, "http": {"status": 200}}
    got = {"a": 1, "b": 2, "http": {"status": 200, "verb": "GET"}}
    assert described(expected, got, "subset") == []
    assert described(expected, got, "all") == ['[http][verb]: not expected, got "GET"', "b: not expected, got 2"]


def test_missing_and_changed_fields_name_their_path() -> None:
    expected = {"http": {"status": 404}, "verb": "GET"}
    assert described(expected, {"http": {"status": "404"}}, "subset") == [
        '[http][status]: expected 404, got "404"',
        'verb: missing, expected "GET"',
    ]


def test_json_equality_of_values() -> None:
    assert described({"n": 1}, {"n": 1.0}) == []
    assert described({"flag": True}, {"flag": 1}) == ["flag: expected true, got 1"]
    assert described({"x": None}, {"x": None}) == []
    assert described({"x": None}, {"x": 0}) == ["x: expected null, got 0"]


def test_lists_are_compared_item_by_item_and_must_be_as_long() -> None:
    assert described({"tags": ["a"]}, {"tags": ["a", "b"]}, "subset") == ['tags: expected ["a"], got ["a", "b"]']
    assert described({"items": [{"id": 1}]}, {"items": [{"id": 1, "more": 2}]}, "subset") == []
    assert described({"items": [{"id": 1}]}, {"items": [{"id": 2}]}) == ["[items][0][id]: expected 1, got 2"]


def test_ignored_fields_are_left_out_of_both_sides() -> None:
    comparison = compare_documents(
        "documents",
        [{"a": 1, "host": {"name": "x", "ip": "1"}}],
        [{"a": 1, "host": {"name": "y", "ip": "1"}, "@timestamp": "now"}],
        "all",
        ignore=["@timestamp", "[host][name]"],
    )
    assert comparison.passed, comparison.problems


def test_in_order_the_nth_is_compared_with_the_nth() -> None:
    comparison = compare_documents("documents", [{"a": 1}, {"a": 2}], [{"a": 2}, {"a": 1}], "all")
    assert comparison.problems == [
        "documents[0]: 1 difference",
        "    a: expected 1, got 2",
        "documents[1]: 1 difference",
        "    a: expected 2, got 1",
    ]
    assert compare_documents("documents", [{"a": 1}, {"a": 2}], [{"a": 2}, {"a": 1}], "all", ordered=False).passed


def test_counts_that_differ_list_what_is_missing_and_what_was_not_expected() -> None:
    comparison = compare_documents("aggregates", [{"a": 1}, {"a": 2}], [{"a": 1}], "all")
    assert comparison.problems == ["aggregates: expected 2, got 1", '    missing aggregates[1]: {"a": 2}']
    comparison = compare_documents("dead_letters", [], [{"reason": "grok"}], "all")
    assert comparison.problems == [
        "dead_letters: expected 0, got 1",
        '    not expected dead_letters[0]: {"reason": "grok"}',
    ]


def test_out_of_order_a_mismatch_is_shown_against_the_closest_document() -> None:
    expected = [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}]
    got = [{"id": 2, "v": "y"}, {"id": 1, "v": "z"}, {"id": 3, "v": "w"}]
    comparison = compare_documents("events", expected, got, "all", ordered=False)
    assert comparison.problems == [
        "events[0] (got events[1]): 1 difference",
        '    v: expected "x", got "z"',
        "events: expected 2, got 3",
        '    not expected events[2]: {"id": 3, "v": "w"}',
    ]


def test_prepare_adjusts_each_produced_document_to_the_expected_one() -> None:
    def drop_count(index: int, got: dict, expected: dict) -> dict:
        return {key: value for key, value in got.items() if key != "count" or key in expected}

    got = [{"clicks": 3, "count": 3}]
    assert compare_documents("events", [{"clicks": 3}], got, "all", prepare=drop_count).passed
    assert not compare_documents("events", [{"clicks": 3, "count": 2}], got, "all", prepare=drop_count).passed
