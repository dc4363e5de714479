"""Events: the envelope every topic carries, field references, templates, time formats and conditions."""
