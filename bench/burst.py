"""Bursts: `streamstash generate` feeds the collector at a base rate with bursts of 10x; watch lag rise and drain.

    python bench/burst.py                                  # 60 s, 400 lines/s, a 5 s burst every 20 s, own local stack
    python bench/burst.py --seconds 90 --rate 300 --burst-every 30 --burst-seconds 6
    python bench/burst.py --kafka kafka:9092 --elasticsearch http://es:9200   # real servers
                                                  # (or STREAMSTASH_KAFKA/_ELASTICSEARCH)

The four services run as processes on the access-log pipeline of bench/e2e.py; the input is the Logstash
tutorial's access log, replayed (looping) by `streamstash generate` into the collector's input file. A few
seconds at the base rate come first so the timeline shows the pipeline keeping up before the first burst.
Every 0.5 s it samples the lines written, each service's received total and consumer lag (summed over
partitions, in Kafka records: the collector and the parser carry batches of lines per record) and the
documents countable in Elasticsearch. Prints one row per second, then per burst the peak lag and the seconds
from the burst's end until the lag was back to what it was at the base rate (~0), and the count check
(documents == lines written).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from elasticsearch import Elasticsearch
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2e import SERVICES, es_count, pipeline
from servers import add_server_options, run_on_servers

from streamstash.stack.manager import StackAddresses
from tests.helpers.processes import ServiceProcess

REPO = Path(__file__).resolve().parents[1]
TUTORIAL_LOG_CANDIDATES = [
    REPO.parent / "shared" / "data" / "logstash-tutorial.log",
    REPO / "examples" / "data" / "logstash-tutorial.log",
]
SAMPLE_INTERVAL_S = 0.5
BURST_FACTOR = 10.0
JITTER = 0.5
DRAIN_TIMEOUT_S = 180.0
RECEIVED = "streamstash_events_received_total"
SENT = "streamstash_events_sent_total"
LAG = "streamstash_consumer_lag"


@dataclass(frozen=True)
class Sample:
    at: float  # seconds since the bursting generator wrote its first line (the lead-in is negative)
    written: int
    received: dict[str, float]
    lag: dict[str, float]
    documents: int


@dataclass(frozen=True)
class BurstSummary:
    start: float
    end: float
    peak: float
    peak_at: float | None
    drained_after: float | None  # seconds after the burst's end; None: not back before the next burst or the end


def burst_windows(seconds: float, burst_every: float, burst_seconds: float) -> list[tuple[float, float]]:
    """The bursts `LoadShape` makes in ``seconds``: one at 0, then every ``burst_every`` (elapsed % every < length)."""
    if burst_every <= 0:
        return []
    windows = []
    start = 0.0
    while start < seconds:
        windows.append((start, min(start + burst_seconds, seconds)))
        start += burst_every
    return windows


def summarize_bursts(
    points: list[tuple[float, float]], windows: list[tuple[float, float]], settled: float = 0.0
) -> list[BurstSummary]:
    """Per burst, the peak of a (time, value) series and the time from the burst's end until it is back to ``settled``.

    The backlog keeps growing after the burst's last line while the slowest stage works through it, so the
    peak is looked for from the burst's start until the series settles (or the next burst starts): the
    peak of a burst is the worst backlog it caused, not the backlog at the moment it stopped.
    """
    summaries = []
    for number, (start, end) in enumerate(windows):
        horizon = windows[number + 1][0] if number + 1 < len(windows) else float("inf")
        drained_at = next((t for t, value in points if end <= t < horizon and value <= settled), None)
        until = drained_at if drained_at is not None else horizon
        during = [(t, value) for t, value in points if start <= t <= until]
        peak_at, peak = max(during, key=lambda point: point[1]) if during else (None, 0.0)
        summaries.append(BurstSummary(start, end, peak, peak_at, drained_at - end if drained_at is not None else None))
    return summaries


def per_second_rows(samples: list[Sample]) -> list[tuple[int, Sample, Sample]]:
    """(second, first sample at or after it, last sample before the next second) for each whole second."""
    rows = []
    by_second: dict[int, list[Sample]] = {}
    for sample in samples:
        by_second.setdefault(int(sample.at // 1), []).append(sample)
    previous: Sample | None = None
    for second in sorted(by_second):
        last = by_second[second][-1]
        rows.append((second, previous or by_second[second][0], last))
        previous = last
    return rows


def scrape(port: int) -> tuple[float, float]:
    """(events received, or sent for the collector which only sends; consumer lag summed over partitions)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    totals = {RECEIVED: 0.0, SENT: 0.0, LAG: 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] += sample.value
    return totals[RECEIVED] or totals[SENT], totals[LAG]


class LineCounter:
    """Lines in a growing file, reading only what was appended since the last call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0

    def count(self) -> int:
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        self.offset += len(chunk)
        self.lines += chunk.count(b"\n")
        return self.lines


def start_generator(
    source: Path, target: Path, rate: float, burst_every: float, burst_seconds: float, count: int = 0
) -> subprocess.Popen:
    argv = [
        sys.executable,
        "-m",
        "streamstash.services.cli",
        "generate",
        "--file",
        str(source),
        "--rate",
        str(rate),
        "--jitter",
        str(JITTER),
        "--burst-every",
        str(burst_every),
        "--burst-factor",
        str(BURST_FACTOR),
        "--burst-seconds",
        str(burst_seconds),
        "--count",
        str(count),
    ]
    with target.open("ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(argv, stdout=out)


def wait_first_line(path: Path, size_before: int, generator: subprocess.Popen) -> float:
    """When the generator's first line landed: its clock (and so its bursts) starts there, after its imports."""
    while path.stat().st_size <= size_before:
        if generator.poll() is not None:
            raise SystemExit(f"generator exited with {generator.returncode} before writing")
        time.sleep(0.005)
    return time.monotonic()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the bursting generator runs")
    parser.add_argument("--rate", type=float, default=400.0, help="base lines/s (bursts are 10x)")
    parser.add_argument("--burst-every", type=float, default=20.0, help="seconds between burst starts")
    parser.add_argument("--burst-seconds", type=float, default=5.0, help="length of a burst")
    parser.add_argument("--lead-in", type=float, default=5.0, help="seconds at the base rate before the first burst")
    parser.add_argument(
        "--file",
        type=Path,
        default=next((p for p in TUTORIAL_LOG_CANDIDATES if p.is_file()), TUTORIAL_LOG_CANDIDATES[-1]),
        help="lines to replay",
    )
    add_server_options(parser)
    run_on_servers(parser.parse_args(), "bench-burst-", run)


def run(args: argparse.Namespace, work: Path, addresses: StackAddresses) -> None:
    es = Elasticsearch(addresses.elasticsearch, request_timeout=60)
    access, unused_tasks = work / "access.log", work / "tasks.log"
    access.touch()
    unused_tasks.touch()
    # e2e.py's pipeline as is (its topics and index are named bench-e2e-<run id>); with no task lines its
    # aggregation never fires, so every access line becomes one document.
    config, index, _ = pipeline(work, access, unused_tasks)
    services = {name: ServiceProcess(name, config, addresses.kafka, addresses.elasticsearch, work) for name in SERVICES}
    generators: list[subprocess.Popen] = []
    try:
        ports = {name: process.http_port for name, process in services.items()}
        counter = LineCounter(access)
        samples: list[Sample] = []
        # Time 0 is the bursting generator's first line; the lead-in's samples get negative times.
        origin = [0.0]

        def take_sample() -> Sample:
            received, lag = {}, {}
            for name, port in ports.items():
                try:
                    received[name], lag[name] = scrape(port)
                except OSError:
                    received[name], lag[name] = float("nan"), float("nan")
            # No forced refresh: a refresh every half second slows the writes being watched.
            documents = es_count(es, index, refresh=False)
            return Sample(time.monotonic() - origin[0], counter.count(), received, lag, documents)

        def sample_until(done) -> None:
            while not done():
                due = time.monotonic() + SAMPLE_INTERVAL_S
                samples.append(take_sample())
                time.sleep(max(0.0, due - time.monotonic()))

        load_before = load_average()
        print(
            f"services up; {args.lead_in:g} s at {args.rate:g} lines/s, then {args.seconds:g} s with a "
            f"{args.burst_seconds:g} s burst of {BURST_FACTOR:g}x every {args.burst_every:g} s; load average "
            f"{load_before}",
            flush=True,
        )
        lead_in = start_generator(args.file, access, args.rate, 0, 0, count=int(args.rate * args.lead_in))
        generators.append(lead_in)
        origin[0] = wait_first_line(access, 0, lead_in) + args.lead_in
        sample_until(lambda: lead_in.poll() is not None)
        size_before = access.stat().st_size
        bursting = start_generator(args.file, access, args.rate, args.burst_every, args.burst_seconds)
        generators.append(bursting)
        origin[0] = wait_first_line(access, size_before, bursting)
        sample_until(lambda: time.monotonic() - origin[0] >= args.seconds)
        bursting.terminate()
        bursting.wait()
        written = counter.count()
        drain_deadline = time.monotonic() + DRAIN_TIMEOUT_S
        sample_until(
            lambda: (
                (samples[-1].documents >= written and samples[-1].lag.get("indexer", 1) == 0 if samples else False)
                or time.monotonic() > drain_deadline
            )
        )
        load_after = load_average()

        print_timeline(samples, args)
        windows = burst_windows(args.seconds, args.burst_every, args.burst_seconds)
        print_bursts(samples, windows)
        es.indices.refresh(index=index)
        documents = es_count(es, index)
        print(
            f"count check: {written:,} lines written, {documents:,} documents -> "
            f"{'OK' if documents == written else 'MISMATCH'}"
        )
        print(f"load average before {load_before}, after {load_after} (nproc {os.cpu_count()})")
    finally:
        for generator in generators:
            if generator.poll() is None:
                generator.terminate()
                generator.wait()
        for process in services.values():
            process.stop()
        es.close()


def phase_at(second: float, windows: list[tuple[float, float]]) -> str:
    return "BURST" if any(start <= second < end for start, end in windows) else "base"


def print_timeline(samples: list[Sample], args: argparse.Namespace) -> None:
    windows = burst_windows(args.seconds, args.burst_every, args.burst_seconds)
    print(
        f"{'t':>4} {'phase':<5} {'written/s':>9} {'indexer lag':>11} {'parser lag':>10} {'documents':>10} "
        f"{'behind':>8} {'in indexer':>10}"
    )
    for second, first, last in per_second_rows(samples):
        elapsed = last.at - first.at
        rate = (last.written - first.written) / elapsed if elapsed > 0 else 0.0
        phase = phase_at(second, windows) if 0 <= second < args.seconds else ("base" if second < 0 else "-")
        print(
            f"{second:>4} {phase:<5} {rate:>9,.0f} {last.lag['indexer']:>11,.0f} {last.lag['parser']:>10,.0f} "
            f"{last.documents:>10,} {last.written - last.documents:>8,} "
            f"{last.received['indexer'] - last.documents:>10,.0f}"
        )
    print(
        "(lag: Kafka records not yet handled, summed over partitions; behind: lines written - documents countable; "
        "in indexer: received by the indexer, not countable yet; a second without a row: a sample took longer)"
    )


def print_bursts(samples: list[Sample], windows: list[tuple[float, float]]) -> None:
    measures = {
        "indexer lag": lambda s: s.lag["indexer"],
        "parser lag": lambda s: s.lag["parser"],
        "lines behind": lambda s: s.written - s.documents,
    }
    summaries, settled_levels = {}, {}
    for label, value in measures.items():
        # "Back to ~0" means back to what the lead-in at the base rate showed: even keeping up, a record or
        # two is always in flight and documents become countable only at the index's 1 s refresh.
        settled = max((value(s) for s in samples if s.at < 0), default=0.0)
        summaries[label] = summarize_bursts([(s.at, value(s)) for s in samples], windows, settled)
        settled_levels[label] = settled
    for number, (start, end) in enumerate(windows):
        during = [s for s in samples if start <= s.at <= end]
        burst_rate = (
            (during[-1].written - during[0].written) / (during[-1].at - during[0].at)
            if len(during) >= 2 and during[-1].at > during[0].at
            else float("nan")
        )
        parts = []
        for label, burst_summaries in summaries.items():
            summary = burst_summaries[number]
            drained = (
                f"back to <= {settled_levels[label]:,.0f} {summary.drained_after:.1f} s after it"
                if summary.drained_after is not None
                else "not back before the next burst / the end"
            )
            parts.append(f"{label} peak {summary.peak:,.0f}, {drained}")
        print(f"burst {number + 1} ({start:g}-{end:g} s, {burst_rate:,.0f} lines/s written): " + "; ".join(parts))


if __name__ == "__main__":
    main()
