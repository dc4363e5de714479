"""How the Faust services' app is built: the adapter must be installed first, a crashed agent ends the
worker instead of being restarted in place, and metadata is looked at again within seconds."""

from __future__ import annotations

from pathlib import Path

import mode
import pytest

from streamstash.config import PipelineConfig
from streamstash.kafka import compat
from streamstash.kafka.clients import METADATA_MAX_AGE_MS
from streamstash.kafka.compat.faust_consumer import AtLeastOnceApp
from streamstash.kafka.faust_app import make_app


def config(tmp_path: Path) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "kafka": {"bootstrap_servers": "127.0.0.1:9"},
            "elasticsearch": {"hosts": ["http://127.0.0.1:9"]},
            "state_dir": str(tmp_path / "state"),
        }
    )


def test_an_agent_that_crashed_ends_the_worker(tmp_path: Path) -> None:
    settings = config(tmp_path)
    compat.install(settings.kafka)
    app = make_app(settings, "parser")
    assert isinstance(app, AtLeastOnceApp)
    assert app.conf.agent_supervisor is mode.CrashingSupervisor
    # A topic a restarted broker left out of its first answers is seen again within seconds, not 5 minutes.
    assert app.conf.consumer_metadata_max_age_ms == METADATA_MAX_AGE_MS <= 10_000


def test_no_app_without_the_adapter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "_installed", None)
    with pytest.raises(RuntimeError, match=r"compat\.install"):
        make_app(config(tmp_path), "parser")
