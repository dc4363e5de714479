"""stdin input: one event per line of standard input, for pipes."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from typing import BinaryIO

from streamstash import names
from streamstash.config.collector import StdinInput as StdinSettings
from streamstash.events.envelope import Event, Source, format_timestamp
from streamstash.services.collector.inputs.base import Emit
from streamstash.services.collector.lines import decode_line
from streamstash.services.collector.multiline import line_sink


class StdinInput:
    name = names.SOURCE_STDIN

    def __init__(self, settings: StdinSettings, stream: BinaryIO | None = None) -> None:
        self.settings = settings
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.host = socket.gethostname()

    async def run(self, emit: Emit) -> None:
        async with line_sink(self.settings.multiline, emit) as sink:
            await self._read(sink.emit)

    async def _read(self, emit: Emit) -> None:
        loop = asyncio.get_running_loop()
        key = f"{names.SOURCE_STDIN}:{self.host}"
        line_number = 0
        while True:
            raw = await loop.run_in_executor(None, self.stream.readline, self.settings.max_line_bytes + 2)
            if not raw:
                return
            line_number += 1
            while not raw.endswith(b"\n"):  # the rest of an over-long line is read and discarded
                more = await loop.run_in_executor(None, self.stream.readline, 1 << 20)
                if not more:
                    break
                raw += more[: max(0, self.settings.max_line_bytes + 2 - len(raw))]
                if more.endswith(b"\n"):
                    break
            decoded = decode_line(raw.rstrip(b"\n"), self.settings.max_line_bytes)
            event = Event(
                message=decoded.message,
                timestamp=format_timestamp(time.time()),
                source=Source(kind=names.SOURCE_STDIN, host=self.host, offset=line_number),
                tags=decoded.tags,
                fields=dict(self.settings.add_fields),
                raw_b64=decoded.raw_b64,
            )
            await emit(key, event, None)
