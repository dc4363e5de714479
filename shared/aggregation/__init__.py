"""Aggregation, free of Kafka and Faust: task routing, folding, flush rules, accumulators, the `logs.tasks` codec.

The aggregator service wires :class:`~streamstash.aggregation.processor.RecordProcessor` to Faust; the
indexer uses :class:`~streamstash.aggregation.routing.TaskRouter` to leave consumed events out.
"""
