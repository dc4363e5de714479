"""The library (`shared/`) never imports a service; `streamstash test` reaches the aggregator's logic through one
module only, until that logic has moved into the library."""

from __future__ import annotations

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[3] / "shared"
# The aggregation logic is moving from services/aggregator/ to shared/aggregation/; then this goes too.
BRIDGE = SHARED / "pipetest" / "aggregation.py"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_only_the_bridge_imports_a_service() -> None:
    importing = {
        path.relative_to(SHARED).as_posix()
        for path in SHARED.rglob("*.py")
        if "streamstash.services" in path.read_text(encoding="utf-8")
        and any(module.startswith("streamstash.services") for module in imported_modules(path))
    }
    assert importing <= {BRIDGE.relative_to(SHARED).as_posix()}, importing
