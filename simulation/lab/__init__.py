"""The pipeline lab: the real Vector, Prometheus and refresher on loopback (`./scripts/lab`)."""
