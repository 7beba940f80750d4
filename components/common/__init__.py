"""Small things every part shares: names and ports, images, labels, security contexts, RBAC,
providers, and the `Cluster` each part is placed in."""
