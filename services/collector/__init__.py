"""streamstash collector service."""
