"""streamstash parser service."""
