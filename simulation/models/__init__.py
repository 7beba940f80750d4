"""Models of what Kubernetes and the pipeline do, for tests and benchmarks: the scheduler's
placement rules, the nodes of every platform, and one collection interval's shipments."""
