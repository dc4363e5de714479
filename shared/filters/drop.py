"""The drop filter: end the event's way here; the parser counts it as dropped (never silently lost)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from streamstash.config.parser import DropFilter as DropSettings
from streamstash.filters.base import Verdict

_ALWAYS = Verdict("drop", "drop filter")


class DropFilter:
    def __init__(self, settings: DropSettings, chance: Callable[[], float] = random.random) -> None:
        """``chance`` returns a uniform number in [0, 1); a seeded generator makes sampling repeatable."""
        self.settings = settings
        self.share = settings.percentage / 100.0
        self.chance = chance
        self.sampled = Verdict("drop", f"drop filter ({settings.percentage:g}% sample)")

    def apply(self, doc: dict[str, Any]) -> Verdict | None:
        if self.share >= 1.0:
            return _ALWAYS
        return self.sampled if self.chance() < self.share else None
