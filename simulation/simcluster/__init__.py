"""The simulated cluster: a real control plane and kwok nodes on loopback (scripts/simulate)."""
