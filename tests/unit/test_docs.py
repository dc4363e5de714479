"""The README's configuration reference is generated from the models; it must match them."""

from __future__ import annotations

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
