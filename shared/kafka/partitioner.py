"""Kafka's default partitioner, for stages that must know a key's partition before they send it."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def default_partition(key: bytes, count: int) -> int:
    """The partition of ``key`` among ``count``, as the Java client's (and aiokafka's) default partitioner picks it."""
    return (murmur2(key) & 0x7FFFFFFF) % count
