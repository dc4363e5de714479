"""End to end: collector (file) -> parser -> aggregator -> indexer -> Elasticsearch, as real processes, against
a naive one-process regex + one-HTTP-request-per-line shipper measured in the same run.

    python bench/e2e.py                  # 1,000,000 access lines + 200,000 task lines, own local stack
    python bench/e2e.py --lines 100000
    python bench/e2e.py --lines 200000 --search opensearch   # an OpenSearch node instead of the stand-in
    python bench/e2e.py --kafka kafka:9092 --elasticsearch http://es:9200   # real servers
    (or STREAMSTASH_KAFKA / STREAMSTASH_ELASTICSEARCH)

Prints: how long 1,000 warm-up lines took to be indexed after start-up, then p50/p99 latency from line written
to document searchable at a fixed 2,000 lines/s (phase 1, while the index is small: the write time rides in
the `bytes` field, documents are found by polling `_search` every 0.1 s),
then for the bulk of the lines sustained lines/s end to end (first line written -> last document
acknowledged by Elasticsearch), per-stage lines/s (each service's /metrics received total), CPU per line
(and how much of it the service's idle CPU, measured for 5 s before the phase, makes over the phase's length),
peak RSS per service (VmHWM), and the count check (documents == lines written: ids are derived from each
line's origin, so a line delivered twice overwrites its document instead of doubling it).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

import profiles
import stage_latency
from index import run_ceiling
from procstat import cpu_seconds, peak_rss_mb
from servers import add_server_options, run_on_servers, search_client
from workload import ACCESS_FILTERS, generate_lines

from streamstash.stack.manager import StackAddresses
from tests.helpers.processes import ServiceProcess

SERVICES = ["collector", "parser", "aggregator", "indexer"]
TASK_GROK = (
    "%{TIMESTAMP_ISO8601:origtime}%{GREEDYDATA} %{WORD:progress}:%{WORD:action} "
    "elapsed:%{NUMBER:elapsed:int}%{GREEDYDATA}"
)
TASK_LINE = re.compile(r"^\S+ \S+ \S+ (?P<progress>\w+):(?P<action>\w+) elapsed:(?P<elapsed>\d+) ms")
ACCESS_LINE = re.compile(
    r'^(?P<clientip>\S+) \S+ \S+ \[(?P<timestamp>[^\]]+)\] "(?P<verb>\S+) (?P<request>\S+) '
    r'[^"]*" (?P<response>\d+) (?P<bytes>\d+|-)'
)
EVERY = 100
LATENCY_MARK = 10**15  # latency lines carry bytes = LATENCY_MARK + write time in µs since the phase began
LATENCY_RATE = 2000  # lines/s written during the latency phase, unless --latency-rate
SAMPLE_EVERY = 20  # every 20th latency line is timed
WARMUP_LINES = 1_000  # written and indexed before the latency phase, so it times the pipeline, not start-up
SAMPLE_BATCH = 500
SEARCH_POLL_S = 0.1  # how often the latency phase searches: it adds up to this much to every figure
BASELINE_CAP = 20_000
CEILING_DOCUMENTS = 20_000
# Issue 16's targets: CPU µs per line (collector, parser), per event (aggregator), per document (indexer).
STAGE_TARGET_US = {
    "collector": ("line", 5.0),
    "parser": ("line", 10.0),
    "aggregator": ("event", 6.0),
    "indexer": ("document", 8.0),
}
TARGET_LINES_PER_CPU_SECOND = 40_000
IDLE_WINDOW_S = 5.0  # how long the services' idle CPU is measured before the bulk phase
TARGET_P99_SECONDS = 2.0
TARGET_PEAK_RSS_MB = 200


def task_lines(count: int) -> list[str]:
    import random

    rng = random.Random(5)
    return [
        f"2026-11-21T10:{index // 60000 % 60:02d}:{index // 1000 % 60:02d}.{index % 1000:03d}Z "
        f"worker-{rng.randint(1, 8)} INFO {rng.choice(['resize', 'upload', 'encode'])}:"
        f"{rng.choice(['thumbnail', 'avatar', 'banner', 'icon'])} elapsed:{rng.randint(1, 2000)} ms "
        f"id={index}"
        for index in range(count)
    ]


def expected_aggregates(lines: list[str]) -> int:
    per_task: dict[str, int] = {}
    for line in lines:
        match = TASK_LINE.match(line)
        key = f"{match['action']}_{match['progress']}"
        per_task[key] = per_task.get(key, 0) + 1
    return sum(n // EVERY for n in per_task.values())


def pipeline(directory: Path, access: Path, tasks: Path) -> tuple[Path, str, str]:
    run_id = uuid.uuid4().hex[:8]  # topics, groups and indices of their own: reruns on real servers never mix
    index, aggregates = f"bench-e2e-{run_id}-logs", f"bench-e2e-{run_id}-aggregates"
    body = {
        "kafka": {
            "partitions": 3,
            "consumer_group_prefix": f"bench-e2e-{run_id}",
            "topics": {kind: f"bench-e2e-{run_id}.{kind}" for kind in ("raw", "parsed", "aggregated", "dlq", "tasks")},
        },
        "state_dir": str(directory / "state"),
        "logging": {"level": "INFO"},  # the metrics port is in an INFO line
        "inputs": [{"type": "file", "paths": [str(access), str(tasks)], "start_position": "beginning"}],
        # The task lines' pattern beside the access lines' one, then the rest of the access chain.
        "filters": [{"grok": {"match": {"message": ["%{COMBINEDAPACHELOG}", TASK_GROK]}}}, *ACCESS_FILTERS[1:]],
        "aggregations": [
            {
                "name": "task_elapsed",
                "task_id": "%{action}_%{progress}",
                "metrics": {"count": {"type": "count"}, "elapsedAvg": {"type": "avg", "field": "elapsed"}},
                "flush": {"every": EVERY},
                "index_events": False,
            }
        ],
        "outputs": {"elasticsearch": {"index": index, "aggregate_index": aggregates}},
    }
    path = directory / "e2e.yml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path, index, aggregates


def metric_samples(port: int) -> list[tuple[str, dict[str, str], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def metric_total(port: int, name: str, **labels: str) -> float:
    return sum(
        value
        for sample, sample_labels, value in metric_samples(port)
        if sample == name and all(sample_labels.get(key) == want for key, want in labels.items())
    )


def received(port: int) -> float:
    samples = metric_samples(port)
    totals = {"streamstash_events_received_total": 0.0, "streamstash_events_sent_total": 0.0}
    for name, _, value in samples:
        if name in totals:
            totals[name] += value
    return totals["streamstash_events_received_total"] or totals["streamstash_events_sent_total"]  # collector sends


def idle_cpu_rates(services: dict[str, ServiceProcess], indexer_name: str = "indexer") -> dict[str, float]:
    """CPU seconds per second each service spends with no line to handle, its /metrics read as often as in the
    bulk phase (each every 1 s by the sampler, the indexer's every 0.5 s more by ``wait_indexed``).

    The bulk phase's CPU includes this for as long as the phase lasts: a slower search engine stretches the
    phase and so raises every stage's CPU per line, which is worth telling from the work per line.
    """
    before = services_cpu(services)
    started = time.monotonic()
    tick = 0
    while time.monotonic() - started < IDLE_WINDOW_S:
        for name, process in services.items():
            if name == indexer_name or tick % 2 == 0:
                received(process.http_port)
        tick += 1
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    return {name: (seconds - before[name]) / elapsed for name, seconds in services_cpu(services).items()}


def services_cpu(services: dict[str, ServiceProcess]) -> dict[str, float]:
    """Each service's CPU seconds so far."""
    return {name: cpu_seconds(process.process.pid) for name, process in services.items()}


def wait_indexed(indexer_port: int, expected: int, timeout: float, poll_seconds: float = 0.5) -> float:
    """When the indexer has had ``expected`` documents acknowledged by Elasticsearch (its sent total).

    Watching the indexer's metrics instead of polling ``_count``: on the stand-in a ``_count`` costs time
    in proportion to the index (2 s at 160,000 documents), load on the server the run measures.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if metric_total(indexer_port, "streamstash_events_sent_total") >= expected:
                return time.monotonic()
        except OSError:
            pass
        time.sleep(poll_seconds)
    raise SystemExit(f"the indexer did not get {expected:,} documents acknowledged within {timeout:g}s")


def met(ok: bool) -> str:
    return "met" if ok else "NOT met"


Elasticsearch = Any  # elasticsearch.Elasticsearch or opensearchpy.OpenSearch: only calls both take alike


def es_count(es: Elasticsearch, index: str) -> int:
    try:
        es.indices.refresh(index=index)
        return int(es.count(index=index)["count"])
    except Exception:  # noqa: BLE001 - the index does not exist yet
        return 0


def settled_count(es: Elasticsearch, index: str, expected: int, timeout: float = 300.0) -> int:
    """The index's count once it reaches ``expected`` (a re-delivery also counts as acknowledged), or after timeout."""
    deadline = time.monotonic() + timeout
    while (count := es_count(es, index)) < expected and time.monotonic() < deadline:
        time.sleep(5.0)
    return count


def latency_phase(
    es: Elasticsearch, index: str, access: Path, seconds: float, rate: float
) -> tuple[dict[int, float], dict[int, float], int]:
    """Write ``rate`` lines/s for ``seconds``; every SAMPLE_EVERY-th carries a mark in ``bytes``.

    Returns when each mark was written and when it was seen searchable (wall clock, comparable with Kafka's
    record timestamps), and how many lines were written.

    Only the marked lines are looked for, and each search asks only for marks not seen yet: a search for
    all of them ten times a second loaded the stand-in enough to slow the very pipeline it measured.
    """
    template = generate_lines(1)[0]
    total = int(rate * seconds)
    started = time.monotonic()
    written: list[int] = []  # marks in the order written
    written_at: dict[int, float] = {}
    seen: dict[int, float] = {}
    done = threading.Event()

    def lowest_unseen() -> int | None:
        return next((mark for mark in written if mark not in seen), None)

    def poll() -> None:
        while True:
            floor = lowest_unseen()
            if floor is None and done.is_set():
                return
            if floor is not None:
                try:
                    hits = es.search(
                        index=index,
                        body={
                            "size": SAMPLE_BATCH,
                            "_source": ["bytes"],
                            "query": {"range": {"bytes": {"gte": floor}}},
                            "sort": [{"bytes": "asc"}],
                        },
                    )["hits"]["hits"]
                except Exception:  # noqa: BLE001 - the index may not show the first marks yet
                    hits = []
                now = time.time()
                for hit in hits:
                    seen.setdefault(int(hit["_source"]["bytes"]), now)
            if done.is_set() and time.monotonic() - finished > 60:
                return
            time.sleep(SEARCH_POLL_S)

    finished = float("inf")
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    with access.open("a", encoding="utf-8") as out:
        for k in range(total):
            due = started + k / rate
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            line = template
            if k % SAMPLE_EVERY == 0:
                mark = LATENCY_MARK + int((time.monotonic() - started) * 1e6)
                written_at[mark] = time.time()
                written.append(mark)
                line = re.sub(r'" (\d{3}) (\d+|-) "', f'" \\1 {mark} "', template, count=1)
            out.write(line + "\n")
            out.flush()
    finished = time.monotonic()
    done.set()
    poller.join()
    return written_at, seen, total


async def baseline(lines: list[str], es_url: str, index: str) -> float:
    """The naive shipper: regex each line, one index request per line, awaited in turn."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        for line in lines:
            match = ACCESS_LINE.match(line)
            document = match.groupdict() if match else {"message": line}
            async with session.post(f"{es_url}/{index}/_doc", json=document) as response:
                await response.read()
                if response.status >= 300:
                    raise SystemExit(f"baseline: HTTP {response.status}")
    return len(lines) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000, help="access-log lines (plus lines/5 task lines)")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=LATENCY_RATE,
        help="lines/s written in the latency phase (the issue's figure is at 2,000)",
    )
    parser.add_argument(
        "--baseline-lines",
        type=int,
        default=BASELINE_CAP,
        help="lines the naive shipper sends (OpenSearch fsyncs its translog per request: ~50 lines/s here)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy every service during the bulk phase; raw stacks in DIR/<service>.txt, top frames printed",
    )
    add_server_options(parser)
    run_on_servers(parser.parse_args(), "bench-e2e-", run)


def run(args: argparse.Namespace, work: Path, addresses: StackAddresses) -> None:
    es = search_client(addresses)
    access_lines = generate_lines(args.lines)
    tasks = task_lines(args.lines // 5)
    access, task_file = work / "access.log", work / "tasks.log"
    access.touch()
    task_file.touch()
    config, index, aggregate_index = pipeline(work, access, task_file)
    services = {name: ServiceProcess(name, config, addresses.kafka, addresses.elasticsearch, work) for name in SERVICES}
    try:
        ports = {name: process.http_port for name, process in services.items()}
        indexer_port = ports["indexer"]
        # Latency first, while the index is small: on the stand-in every search costs time in proportion to
        # the index, and the poll would measure that instead of the pipeline.
        # Until every consumer group has joined and fetched, the first lines wait (about 3 s here): that is
        # start-up, reported on its own line, not the steady latency the target is about.
        up = time.monotonic()
        with access.open("a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in generate_lines(WARMUP_LINES)))
        warm = wait_indexed(indexer_port, WARMUP_LINES, timeout=600, poll_seconds=0.05)
        print(f"services up; {WARMUP_LINES:,} warm-up lines indexed {warm - up:.1f} s after start-up", flush=True)
        print(f"latency phase: {args.latency_rate:g} lines/s for {args.latency_seconds:g} s", flush=True)
        written_at, seen_at, latency_lines = latency_phase(es, index, access, args.latency_seconds, args.latency_rate)
        latencies = sorted(seen_at[mark] - written_at[mark] for mark in seen_at)
        before_bulk = WARMUP_LINES + latency_lines
        wait_indexed(indexer_port, before_bulk, timeout=600)
        # Where the time goes: Kafka's record timestamps say when the collector and the parser sent each mark.
        topics = yaml.safe_load(config.read_text())["kafka"]["topics"]
        stages = asyncio.run(
            stage_latency.stages(addresses.kafka, topics["raw"], topics["parsed"], written_at, seen_at)
        )
        idle = idle_cpu_rates(services)
        print(f"writing {len(access_lines):,} access + {len(tasks):,} task lines", flush=True)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in SERVICES}
        stop_sampling = threading.Event()

        def sample() -> None:
            while not stop_sampling.is_set():
                for name, port in ports.items():
                    with contextlib.suppress(OSError):
                        samples[name].append((time.monotonic(), received(port)))
                stop_sampling.wait(1.0)

        sampler = threading.Thread(target=sample, daemon=True)
        aggregator_received_before = received(ports["aggregator"])
        cpu_before = services_cpu(services)
        taken = (
            [profiles.start(name, process.process.pid, args.profile) for name, process in services.items()]
            if args.profile
            else []
        )
        started = time.monotonic()
        sampler.start()
        with access.open("a", encoding="utf-8") as out:
            out.write("".join(line + "\n" for line in access_lines))
        task_file.write_text("".join(line + "\n" for line in tasks))
        expected_docs = before_bulk + len(access_lines)
        expected_aggs = expected_aggregates(tasks)
        ended = wait_indexed(indexer_port, expected_docs + expected_aggs, timeout=3600)
        cpu_used = {name: seconds - cpu_before[name] for name, seconds in services_cpu(services).items()}
        aggregator_events = received(ports["aggregator"]) - aggregator_received_before
        for profile in taken:
            profiles.stop(profile)
        stop_sampling.set()
        sampler.join()
        total_lines = len(access_lines) + len(tasks)
        end_to_end = total_lines / (ended - started)
        print(
            f"end to end: {total_lines:,} lines in {ended - started:.1f}s = {end_to_end:,.0f} lines/s "
            "(first line written -> last document acknowledged by Elasticsearch)"
        )
        stage_rates: dict[str, float] = {}
        for name, points in samples.items():
            moving = [(t, v) for t, v in points if points and v > points[0][1]]
            if len(moving) >= 2:
                last = next(i for i, (_, v) in enumerate(moving) if v == moving[-1][1])
                (t0, v0), (t1, v1) = (started, points[0][1]), moving[last]
                if t1 <= moving[0][0]:
                    print(f"  {name:<10} received {moving[-1][1]:>10,.0f}  all within one 1 s sample")
                    continue
                rate = (v1 - v0) / (t1 - t0)
                stage_rates[name] = rate
                print(f"  {name:<10} received {moving[-1][1]:>10,.0f}  {rate:>10,.0f} lines/s")
        pipeline_cpu = sum(cpu_used.values())
        print(
            f"CPU of the four services: {pipeline_cpu:.1f} s = {total_lines / pipeline_cpu:,.0f} lines per CPU-second ("
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in cpu_used.items())
            + "; Kafka and Elasticsearch not counted)"
        )
        print(f"  target: at least {TARGET_LINES_PER_CPU_SECOND:,} lines per CPU-second")
        # The collector and the parser are charged per line written, the aggregator per event it received
        # (parsed events re-keyed plus task events folded), the indexer per document it indexed.
        per_unit = {
            "collector": total_lines,
            "parser": total_lines,
            "aggregator": aggregator_events,
            "indexer": len(access_lines) + expected_aggs,
        }
        for name, seconds in cpu_used.items():
            micros = seconds * 1e6 / max(per_unit[name], 1)
            idle_micros = idle[name] * (ended - started) * 1e6 / max(per_unit[name], 1)
            unit, target = STAGE_TARGET_US[name]
            print(
                f"  {name:<10} {micros:6.1f} µs CPU per {unit} over {per_unit[name]:,.0f} "
                f"(target <= {target:g}: {met(micros <= target)}; of it idle {idle_micros:.1f}: "
                f"{idle[name] * 1000:.0f} ms/s measured before the phase)"
            )
        for profile in taken:
            print(profiles.summarise(profile))
            print(f"  taken with: {' '.join(profile.command)}")
        documents, aggregates = (
            settled_count(es, index, expected_docs),
            settled_count(es, aggregate_index, expected_aggs),
        )
        items = {
            result: metric_total(indexer_port, "streamstash_bulk_items_total", result=result)
            for result in ("created", "updated", "already_indexed", "rejected")
        }
        # Ids are derived from each line's origin, so a line delivered twice overwrites its document: the
        # count equal to the lines written means every line is there exactly once.
        print(
            f"count check: documents {documents:,} (expected {expected_docs:,}, {before_bulk:,} of them from the "
            f"warm-up and the latency phase), aggregates {aggregates:,} (expected {expected_aggs:,}) -> "
            f"{'OK' if documents == expected_docs and aggregates == expected_aggs else 'MISMATCH'}; bulk items "
            + ", ".join(f"{result} {count:,.0f}" for result, count in items.items())
        )

        # What the stand-in's Elasticsearch accepts at all, in the state the run left it in (it slows as it
        # fills): pre-encoded 2,000-document bulk requests, one after another, no Kafka.
        ceiling_s, _ = asyncio.run(run_ceiling(addresses.elasticsearch, CEILING_DOCUMENTS, 2000))
        ceiling = CEILING_DOCUMENTS / ceiling_s
        indexer_rate = stage_rates.get("indexer", float("nan"))
        print(
            f"elasticsearch bulk ceiling now: {ceiling:,.0f} docs/s; indexer stage / ceiling: "
            f"{indexer_rate / ceiling:.0%}"
        )
        wanted = -(-int(args.latency_rate * args.latency_seconds) // SAMPLE_EVERY)  # the timed lines
        if latencies:
            p50 = latencies[len(latencies) // 2]
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(
                f"latency at {args.latency_rate:g}/s: {len(latencies):,}/{wanted:,} timed lines seen, "
                f"p50 {p50 * 1000:,.0f} ms, p99 {p99 * 1000:,.0f} ms (written -> searchable; target p99 < "
                f"{TARGET_P99_SECONDS:g} s: {met(p99 < TARGET_P99_SECONDS)})"
            )
            for stage, values in stages.items():
                print(f"  {stage:<34} {stage_latency.summary(values)}")
        else:
            print("latency: no latency lines became searchable")
        for name, process in services.items():
            peak = peak_rss_mb(process.process.pid)
            print(
                f"peak RSS {name:<10} {peak:,.0f} MB (target <= {TARGET_PEAK_RSS_MB} MB: "
                f"{met(peak <= TARGET_PEAK_RSS_MB)})"
            )
    finally:
        for process in services.values():
            process.stop()

    capped = access_lines[: args.baseline_lines]
    naive_cpu_before = time.process_time()  # the naive shipper runs in this process, alone by now
    naive = asyncio.run(baseline(capped, addresses.elasticsearch, f"{index}-naive"))
    naive_per_cpu_second = len(capped) / (time.process_time() - naive_cpu_before)
    print(
        f"naive baseline (regex + one HTTP index request per line, first {len(capped):,} lines only, "
        f"lines/s extrapolated): {naive:,.0f} lines/s, {naive_per_cpu_second:,.0f} lines per CPU-second"
    )
    print(
        f"ratio end to end / naive: {end_to_end / naive:.1f}x (wall clock, bound by the Elasticsearch above); "
        f"per CPU-second: {total_lines / pipeline_cpu / naive_per_cpu_second:.1f}x"
    )
    es.close()


if __name__ == "__main__":
    main()
