"""Kafka offsets for operations: ends, consumer group positions, lag, and times -> offsets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from streamstash.config.common import KafkaSettings
from streamstash.kafka.clients import make_admin, make_consumer
from streamstash.kafka.compat.internals import force_metadata_update


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    end: int
    committed: int | None

    @property
    def lag(self) -> int:
        return self.end - (self.committed or 0)


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    partitions = consumer.partitions_for_topic(topic)
    if partitions is None:
        await force_metadata_update(consumer)
        partitions = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, partition) for partition in sorted(partitions)]


class OffsetReader:
    """A group-less consumer and an admin client, opened together for offset questions."""

    def __init__(self, settings: KafkaSettings) -> None:
        self.consumer = make_consumer(
            settings, group=None, client_id="streamstash-ops", isolation_level="read_uncommitted"
        )
        self.admin = make_admin(settings, client_id="streamstash-ops")

    async def __aenter__(self) -> OffsetReader:
        await self.consumer.start()
        await self.admin.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def end_offsets(self, topic: str) -> dict[int, int]:
        tps = await partitions_of(self.consumer, topic)
        ends = await self.consumer.end_offsets(tps) if tps else {}
        return {tp.partition: offset for tp, offset in ends.items()}

    async def beginning_offsets(self, topic: str) -> dict[int, int]:
        tps = await partitions_of(self.consumer, topic)
        starts = await self.consumer.beginning_offsets(tps) if tps else {}
        return {tp.partition: offset for tp, offset in starts.items()}

    async def offsets_at(self, topic: str, moment: datetime) -> dict[int, int]:
        """First offset per partition whose record time is at or after ``moment`` (the end if none)."""
        tps = await partitions_of(self.consumer, topic)
        found = await self.consumer.offsets_for_times({tp: int(moment.timestamp() * 1000) for tp in tps})
        ends = await self.end_offsets(topic)
        return {
            tp.partition: (stamp.offset if stamp is not None else ends[tp.partition]) for tp, stamp in found.items()
        }

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        offsets = await self.admin.list_consumer_group_offsets(group)
        return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}

    async def lag(self, group: str, topic: str) -> list[PartitionLag]:
        ends = await self.end_offsets(topic)
        committed = await self.committed(group, topic)
        return [PartitionLag(topic, partition, end, committed.get(partition)) for partition, end in ends.items()]

    async def group_members(self, group: str) -> int:
        """Members of a consumer group that is Stable (one per running service instance)."""
        responses = await self.admin.describe_consumer_groups([group])
        for response in responses:
            for error_code, name, state, _protocol_type, _protocol, members, *_ in response.groups:
                if name == group and error_code == 0 and state == "Stable":
                    return len(members)
        return 0
