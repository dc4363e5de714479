"""Logstash-compatible grok."""
