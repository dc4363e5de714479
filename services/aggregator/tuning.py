"""The figures the aggregator runs with, and why."""

from __future__ import annotations

# A round of parsed records makes one logs.tasks record per partition, and the aggregate stage writes
# each task of a record once to the table (one changelog message per task): the more events a round
# holds, the fewer writes per event (10,000 tasks: 0.37 writes per event with rounds of 50 records
# of 500 events, 0.2 with 100). Parser records hold at most 500 events / 512 KiB.
REKEY_MAX_RECORDS = 100
REKEY_LINGER_SECONDS = 0.05
MAX_EVENTS_PER_TASK_RECORD = 20_000
IDLE_CHECK_SECONDS = 1.0
# After a kill -9 the group waits this long for the dead member before a restarted one gets its
# partitions back (Faust's default is 60 s); heartbeats come from the consumer thread every 3 s.
SESSION_TIMEOUT_SECONDS = 20.0
REBALANCE_TIMEOUT_SECONDS = 30.0


def task_record_bytes(max_message_bytes: int) -> int:
    """The bound of a logs.tasks record: half the broker's limit, room for what `encoded_size` underestimates."""
    return max_message_bytes // 2
