"""Everything that runs the program somewhere other than a real cluster; never deployed.

models/      the scheduler's placement rules, nodes of every platform, one interval's shipments
standins/    Cedana's credentials API, the S3 front, the exporters the pipeline scrapes
mocks.py     the program under Pulumi's mock monitor
lab/         the pipeline lab: real Vector and Prometheus on loopback (./scripts/lab)
simcluster/  the simulated cluster: real control plane, kwok, the Pulumi CLI (./scripts/simulate)
support/     ports, processes, waiting, the loopback watch, the figures table
"""
