"""The README's configuration reference is generated from the models; it must match them."""

from __future__ import annotations

import re
from pathlib import Path

from streamstash.config.docs import render_reference

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reference_is_current() -> None:
    assert render_reference() in README.read_text(encoding="utf-8"), "run `make docs` to regenerate it"


def test_every_settings_field_has_description_and_example() -> None:
    from streamstash.config.docs import SECTIONS, _nested_models

    missing = []
    queue = list(SECTIONS)
    seen = set()
    while queue:
        path, model = queue.pop()
        if model in seen:
            continue
        seen.add(model)
        queue.extend((f"{path}.{key}", nested) for key, nested in _nested_models(model))
        for name, info in model.model_fields.items():
            if not info.description:
                missing.append(f"{path}.{name}: description")
            nested = _nested_models(model)
            if not info.examples and name not in {key for key, _ in nested} and name != "type":
                missing.append(f"{path}.{name}: example")
    assert not missing, missing


def reference_types(model: type) -> dict[str, str]:
    """Key -> type column of a model's reference table (cells split at unescaped `|`)."""
    from streamstash.config.docs import render_model

    rows = [line for line in render_model("x", model) if line.startswith("| `")]
    cells = [re.split(r"(?<!\\)\|", row)[1:-1] for row in rows]
    return {cell[0].strip(" `"): cell[1].strip() for cell in cells}


def test_durations_are_typed_as_durations_whether_optional_or_not() -> None:
    from streamstash.config.aggregator import FlushRules, WindowSpec

    flush = reference_types(FlushRules)
    assert flush["allowed_lateness"] == "duration"
    assert flush["inactivity_timeout"] == "duration \\| null"
    assert flush["every"] == "int \\| null"
    assert reference_types(WindowSpec)["size"] == "duration"
