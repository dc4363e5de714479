"""streamstash indexer service."""
