from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.faust_corrections.support import Probes


@pytest.fixture
def probes(log_dir: Path) -> Iterator[Probes]:
    started = Probes(log_dir)
    yield started
    started.kill_all()
