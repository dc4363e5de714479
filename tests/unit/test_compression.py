"""Every producer compresses as `kafka.compression` says; the collector may choose otherwise for logs.raw."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from streamstash.config import PipelineConfig
from streamstash.kafka import compat
from streamstash.kafka.clients import make_producer
from streamstash.kafka.faust_app import make_app


def config(tmp_path: Path, kafka: dict[str, object], collector: dict[str, object] | None = None) -> PipelineConfig:
    return PipelineConfig.model_validate(
        {
            "kafka": {"bootstrap_servers": "127.0.0.1:9", **kafka},
            "elasticsearch": {"hosts": ["http://127.0.0.1:9"]},
            "state_dir": str(tmp_path / "state"),
            **({"collector": collector} if collector else {}),
        }
    )


def producer_compression(settings: PipelineConfig, override: str | None = None) -> str | None:
    async def build() -> str | None:
        return make_producer(settings.kafka, "p", compression=override)._compression_type  # type: ignore[no-any-return]

    return asyncio.run(build())


def test_zstd_unless_told_otherwise(tmp_path: Path) -> None:
    settings = config(tmp_path, {})
    assert settings.kafka.compression == "zstd"
    assert settings.collector.compression is None
    assert producer_compression(settings) == "zstd"
    compat.install(settings.kafka)
    assert make_app(settings, "parser").conf.producer_compression_type == "zstd"


@pytest.mark.parametrize(("setting", "sent"), [("lz4", "lz4"), ("gzip", "gzip"), ("none", None)])
def test_the_setting_reaches_every_producer(tmp_path: Path, setting: str, sent: str | None) -> None:
    settings = config(tmp_path, {"compression": setting})
    assert producer_compression(settings) == sent
    compat.install(settings.kafka)
    assert make_app(settings, "aggregator").conf.producer_compression_type == sent


def test_the_collector_may_override_it_for_logs_raw(tmp_path: Path) -> None:
    settings = config(tmp_path, {"compression": "zstd"}, {"compression": "none"})
    assert producer_compression(settings, settings.collector.compression) is None


def test_an_unknown_codec_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="compression"):
        config(tmp_path, {"compression": "brotli"})
