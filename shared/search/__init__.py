"""Search engines the indexer writes to: client construction from the settings."""
