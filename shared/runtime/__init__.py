"""The process runtime: running a service (signals, bounded drain), the supervisor of `streamstash run`,
the HTTP health and metrics endpoint, structured logs, state slots and retry delays."""
