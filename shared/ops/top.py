"""`streamstash top`: a refreshing terminal table of the pipeline, built from successive status snapshots."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.live import Live
from rich.table import Table

from streamstash.config import PipelineConfig
from streamstash.ops.status import PipelineStatus, collect_status, rate


def render(current: PipelineStatus, previous: PipelineStatus | None) -> Table:
    seconds = current.taken_at - previous.taken_at if previous else 0.0
    before = {status.service: status for status in previous.services} if previous else {}
    table = Table(title=f"streamstash  raw records {current.raw_records}  DLQ records {current.dlq_records}")
    for column in ("service", "instances", "in/s", "out/s", "lag", "failed", "dropped", "lost"):
        table.add_column(column, justify="left" if column == "service" else "right")

    def show(value: float | None, digits: int = 0) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    for status in current.services:
        old = before.get(status.service)
        table.add_row(
            status.service,
            show(status.instances),
            show(rate(status.events_in, old.events_in if old else None, seconds), 1),
            show(rate(status.events_out, old.events_out if old else None, seconds), 1),
            show(status.lag if status.instances is not None else None),
            show(status.events_failed),
            show(status.events_dropped),
            show(status.events_lost),
        )
    return table


async def run_top(
    config: PipelineConfig,
    endpoints: dict[str, list[str]],
    interval: float,
    iterations: int | None = None,
    console: Console | None = None,
) -> None:
    previous: PipelineStatus | None = None
    count = 0
    with Live(console=console or Console(), auto_refresh=False) as live:
        while iterations is None or count < iterations:
            current = await collect_status(config, endpoints)
            live.update(render(current, previous), refresh=True)
            previous = current
            count += 1
            if iterations is None or count < iterations:
                await asyncio.sleep(interval)
