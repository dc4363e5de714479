"""Aggregation logic the library shares between the aggregator and the indexer: task routing."""
