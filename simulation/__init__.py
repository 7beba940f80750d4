"""Models and stand-ins used by tests, benchmarks, the lab and the simulation; never deployed."""
