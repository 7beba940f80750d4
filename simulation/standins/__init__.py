"""Stand-ins on loopback for what the sidecar and the pipeline talk to: Cedana's credentials
API, a checking front before moto's S3, and the exporters the pipeline scrapes."""
