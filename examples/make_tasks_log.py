"""Write an application log like the aggregator issue's example, for `examples/tasks.yml`.

    python examples/make_tasks_log.py > examples/data/tasks.log            # 3,000 lines, 12 tasks
    python examples/make_tasks_log.py --lines 100000 --tasks 10000 > big.log

Lines look like `2026-11-21T10:00:00.123Z worker-3 INFO resize:thumbnail elapsed:137 ms id=42`, time
increasing by `--step-ms`; the same seed always gives the same file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.aggregator.tasklog import task_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--step-ms", type=int, default=250)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for line in task_lines(args.lines, seed=args.seed, tasks=args.tasks, step_ms=args.step_ms):
        sys.stdout.write(line + "\n")


if __name__ == "__main__":
    main()
