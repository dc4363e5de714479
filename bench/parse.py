"""Parsing throughput: the grok engine against a hand-written `re` regex on Apache combined-log lines.

    python bench/parse.py                 # 200,000 lines, best of 3 per contender
    python bench/parse.py --lines 50000 --repeat 5

Both contenders produce the same dict per line (checked on every line before timing): the COMBINEDAPACHELOG
fields, `response` and `bytes` as int, fields that did not take part (`bytes` of a `-`, `rawrequest` of a
well-formed request) absent. Runs on one core (pinned where the OS allows).

Then, unless --engine-only, the parser service end to end (Kafka in, Kafka out, one process) over the same
number of lines, beside a plain aiokafka loop doing the same work: see bench/parser_service.py. The issue's
targets: grok >= 0.9x the hand-written regex; the service >= 25,000 lines/s.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from workload import GROK_PATTERN, generate_lines  # bench/, beside this script

from streamstash.grok import Grok

# What one would write by hand for the same format and the same fields.
HAND_REGEX = re.compile(
    r"(?P<clientip>\S+) (?P<ident>\S+) (?P<auth>\S+) \[(?P<timestamp>[^\]]+)\] "
    r'"(?:(?P<verb>\w+) (?P<request>\S+)(?: HTTP/(?P<httpversion>[0-9.]+))?|(?P<rawrequest>[^"]*))" '
    r'(?P<response>\d+) (?:(?P<bytes>\d+)|-) (?P<referrer>"[^"]*") (?P<agent>"[^"]*")'
)


def parse_with_re(line: str) -> dict[str, Any] | None:
    match = HAND_REGEX.match(line)
    if match is None:
        return None
    fields = {key: value for key, value in match.groupdict().items() if value}
    fields["response"] = int(fields["response"])
    size = fields.get("bytes")
    if size is not None:
        fields["bytes"] = int(size)
    return fields


def make_grok_parser() -> Callable[[str], dict[str, Any] | None]:
    grok = Grok([GROK_PATTERN])

    def parse_with_grok(line: str) -> dict[str, Any] | None:
        result = grok.match(line)
        return result.fields if result.matched else None

    return parse_with_grok


def make_guarded_parser() -> Callable[[str], dict[str, Any] | None]:
    """For comparison only: the same expression forced onto the `regex` engine with its timeout (what every
    event would cost if grok did not use Python's `re` for backtracking-safe expressions)."""
    expression = Grok([GROK_PATTERN]).expressions[0]
    search, extract = expression.guarded.search, expression.extract

    def parse_guarded(line: str) -> dict[str, Any] | None:
        match = search(line, timeout=1.0)
        return extract(match.groups()) if match else None

    return parse_guarded


def contenders() -> dict[str, Callable[[str], Any]]:
    return {
        "re (hand-written)": parse_with_re,
        "grok %{COMBINEDAPACHELOG}": make_grok_parser(),
        "(grok on regex+timeout)": make_guarded_parser(),
    }


def seconds(parse: Callable[[str], Any], lines: list[str]) -> float:
    """CPU time of this process for one pass (on a shared machine, wall time mostly measures the neighbours)."""
    gc.collect()
    started = time.process_time()
    for line in lines:
        parse(line)
    return time.process_time() - started


def lines_per_second(parsers: dict[str, Callable[[str], Any]], lines: list[str], repeat: int) -> dict[str, float]:
    """Best of `repeat` passes each, the contenders interleaved so that a busy spell hits them alike."""
    best = dict.fromkeys(parsers, float("inf"))
    for _ in range(repeat):
        for name, parse in parsers.items():
            best[name] = min(best[name], seconds(parse, lines))
    return {name: len(lines) / elapsed for name, elapsed in best.items()}


def pin_to_one_core() -> set[int] | None:
    """Pin to one core; returns the cores allowed before, to give them back."""
    if hasattr(os, "sched_setaffinity"):
        try:
            allowed = os.sched_getaffinity(0)
            os.sched_setaffinity(0, {min(allowed)})
            return allowed
        except OSError:
            pass
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="Generated lines (default 200000).")
    parser.add_argument("--repeat", type=int, default=3, help="Repetitions per contender; the best counts.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engine-only", action="store_true", help="Skip the parser service (needs no Kafka).")
    args = parser.parse_args(argv)

    allowed = pin_to_one_core()
    lines = generate_lines(args.lines, args.seed)
    parsers = contenders()
    reference = parsers["re (hand-written)"]
    for line in lines:  # all must agree before their speeds mean anything
        for name, parse in parsers.items():
            if parse(line) != reference(line):
                print(f"MISMATCH on {line!r}:\n  re:   {reference(line)}\n  {name}: {parse(line)}", file=sys.stderr)
                return 1
    print(f"{len(lines):,} lines, best of {args.repeat} (CPU time), one core, Python {sys.version.split()[0]}")
    rates = lines_per_second(parsers, lines, args.repeat)
    for name, rate in rates.items():
        print(f"  {name:28s} {rate:>12,.0f} lines/s  ({rate / rates['re (hand-written)']:.2f} x re)")
    ratio = rates["grok %{COMBINEDAPACHELOG}"] / rates["re (hand-written)"]
    print(f"  grok / re = {ratio:.2f}   (target >= 0.90)")
    if not args.engine_only:
        if allowed:
            os.sched_setaffinity(0, allowed)  # the broker stand-in and the service are child processes
        import parser_service

        return parser_service.main(["--lines", str(args.lines), "--runs", "1"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
