"""`scripts/verify`: does this stack's data reach Cedana, and if not, what to fix.

Not part of the Pulumi program: a command users run from the project after `pulumi up`. It
finds the kube context and namespace from the stack's config (`stack.py`), reads the live
cluster through the Kubernetes API only — lists of objects, the collector's log, and through
the API server's proxy Prometheus' HTTP API and the refresher's `/status` (`read.py`) — and
turns what it read into one verdict per check, ✓ or ✗, each ✗ with the one thing to do
(`workloads.py`, `delivery.py`: pure functions of what was read). It exits 0 only when every
check is ✓, which includes a recent successful write to S3 (`cli.py`).
"""
