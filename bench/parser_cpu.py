"""The parser's CPU per line in this process, without Kafka: bench/e2e.py's access lines through its chain.

    python bench/parser_cpu.py [--lines 20000] [--repeat 5] [--profile out.prof]

Records are what bench/e2e.py's collector writes to `logs.raw`: generated access lines, as many per record as
its default batch holds (`workload.RECORD_EVENTS`), from a file source with host and path. Each record goes
through `RecordParser.parse_record` with e2e's pipeline (grok COMBINEDAPACHELOG or the task pattern, mutate
convert, date; the input's `host` and `path` shown to the filters), and the parsed batch is encoded, as the
service does before it sends. Timed with ``time.process_time``, the service's GC setting applied. Printed:
the median over ``--repeat`` of CPU µs per line, beside the baseline of the same run: decoding the same
records and encoding their events unchanged (the envelope's codec, which any parser pays).
"""

from __future__ import annotations

import argparse
import cProfile
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e import pipeline  # bench/, beside this script
from workload import RECORD_EVENTS, generate_lines

from streamstash.config import load_pipeline
from streamstash.events.envelope import Batch, Event, Source, decode_batch, encode
from streamstash.events.inputfields import input_fields_for
from streamstash.filters import FilterChain
from streamstash.runtime.garbage import settle_garbage_collection
from streamstash.services.parser.logic import RecordParser


def raw_records(lines: list[str]) -> list[bytes]:
    return [
        encode(
            Batch(
                events=[
                    Event(
                        message=line,
                        source=Source(kind="file", host="web-1", path="/var/log/access.log", offset=(start + n) * 200),
                    )
                    for n, line in enumerate(lines[start : start + RECORD_EVENTS])
                ]
            )
        )
        for start in range(0, len(lines), RECORD_EVENTS)
    ]


def cpu_per_line(work: Callable[[], None], lines: int, repeat: int) -> list[float]:
    runs = []
    for _ in range(repeat):
        started = time.process_time()
        work()
        runs.append((time.process_time() - started) / lines * 1e6)
    return runs


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--lines", type=int, default=20_000)
    options.add_argument("--repeat", type=int, default=5)
    options.add_argument("--profile", type=Path, help="write a cProfile of one more parser run here")
    args = options.parse_args(argv)

    directory = Path(tempfile.mkdtemp(prefix="parser-cpu-"))
    config_path, _, _ = pipeline(directory, directory / "access.log", directory / "tasks.log")
    config = load_pipeline(config_path)
    parser = RecordParser(FilterChain(config.filters), input_fields_for(config))
    records = raw_records(generate_lines(args.lines))

    def parse() -> None:
        for offset, value in enumerate(records):
            encode(Batch(events=parser.parse_record(value, "logs.raw", 0, offset).parsed))

    def baseline() -> None:
        for value in records:
            encode(decode_batch(value))

    settle_garbage_collection("bench")
    parsed = cpu_per_line(parse, args.lines, args.repeat)
    base = cpu_per_line(baseline, args.lines, args.repeat)
    runs = ", ".join(f"{value:.2f}" for value in parsed)
    print(f"parser (decode, chain, ids, encode): {statistics.median(parsed):6.2f} µs CPU/line  ({runs})")
    print(f"baseline (decode + encode unchanged): {statistics.median(base):6.2f} µs CPU/line")
    print(f"ratio parser/baseline: {statistics.median(parsed) / statistics.median(base):.1f}x (target: 10 µs/line)")
    if args.profile is not None:
        cProfile.runctx("parse()", globals(), {"parse": parse}, str(args.profile))
        print(f"profile: {args.profile}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
