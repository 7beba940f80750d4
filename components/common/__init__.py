"""Small things every part shares: names and ports, images, labels, security contexts, RBAC,
quantities, chart sources, and the `Cluster` each part is placed in. Nothing here imports the
settings or a part."""
