"""The aggregator's folding logic, as `streamstash test` uses it: the one place the test runner imports it from.

The library never imports a service; the pure aggregation logic is on its way from
`services/aggregator/` into `shared/aggregation/` (branch wt/structure: `folding.TaskAggregator`,
`processor.RecordProcessor`, `records.task_records` and `records.partition_for`, same signatures). Until it
is there, this module is the only exception (tests/unit/pipetest/test_layering.py keeps it the only one):
point these imports at the new modules and the exception goes away.
"""

from __future__ import annotations

from streamstash.aggregation.routing import TaskRouter
from streamstash.services.aggregator.logic import RecordProcessor, TaskAggregator
from streamstash.services.aggregator.records import partition_for, task_records

__all__ = ["RecordProcessor", "TaskAggregator", "TaskRouter", "partition_for", "task_records"]
