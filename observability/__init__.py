"""What an operator watches: the metrics `/metrics` serves, the request telemetry (route,
status, latency, request id) and the log formats. Imports nothing of ours; the adapters and
the composition root count into it (docs/operations.md)."""
