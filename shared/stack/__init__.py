"""The local stack: the engines (Apache Kafka, the noida-db stand-in) started on free ports for
development, `streamstash run` and the tests."""
