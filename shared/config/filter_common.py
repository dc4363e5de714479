"""What every filter shares (Logstash's common options), apart from the filters so that new ones can live in
their own modules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from streamstash.config.base import StrictModel

# Logstash's per-plugin `ecs_compatibility`: `disabled` is the classic field layout, `v1`/`v8` (the same for
# these plugins) the Elastic Common Schema one.
EcsCompatibility = Literal["disabled", "v1", "v8"]


class CommonFilterOptions(StrictModel):
    """What every filter does after it succeeded (Logstash's `add_field`, `add_tag`, ...); templates allowed."""

    add_field: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Field -> value template (`%{field}`); a field that already exists "
        "becomes a list with the new value appended, as in Logstash. Skipped when a template names a missing "
        "field.",
        examples=[{"summary": "%{verb} %{request}"}],
    )
    add_tag: list[str] = Field(default_factory=list, description="Tags to add (templates allowed).", examples=[["web"]])
    remove_field: list[str] = Field(
        default_factory=list, description="Fields to remove (templates allowed).", examples=[["message", "timestamp"]]
    )
    remove_tag: list[str] = Field(
        default_factory=list, description="Tags to remove (templates allowed).", examples=[["_debug"]]
    )
