"""streamstash aggregator service."""
