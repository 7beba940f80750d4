"""What the lab, the simulated cluster, the stand-ins, tests and benchmarks share: ports,
processes, waiting, the loopback watch and the figures table."""
