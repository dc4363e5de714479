"""Kafka: clients and topics built from the settings, the Faust app of the Faust services, and group
membership handover. Everything that touches private parts of Faust or aiokafka is in ``compat``."""
