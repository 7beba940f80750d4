"""Prints the stack's CPU and memory budget per CPU node, per GPU node and per cluster.

    .venv/bin/python scripts/budget.py              # the defaults of Pulumi.yaml
    .venv/bin/python scripts/budget.py --stack dev  # with Pulumi.dev.yaml's values

Reads the settings the way the program does (Pulumi.yaml defaults under the stack file's
values) without the Pulumi CLI; secrets do not change the budget, so placeholders stand in.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.budget import budget, table  # noqa: E402
from components.project_config import stack_config, stack_values  # noqa: E402
from components.settings import MappingSource, Settings, load_settings  # noqa: E402

PLACEHOLDER_SECRETS = {
    "clusterId": "00000000-0000-0000-0000-000000000000",
    "authToken": "placeholder",
    "awsAccessKeyId": "placeholder",
    "awsSecretAccessKey": "placeholder",
}
PLACEHOLDER_PLAIN = {"s3Bucket": "placeholder-bucket", "awsRegion": "us-east-1"}


def settings_for(stack: str | None) -> Settings:
    values = dict(PLACEHOLDER_PLAIN)
    if stack:
        values.update(stack_values(ROOT / f"Pulumi.{stack}.yaml"))
    config = stack_config(values, PLACEHOLDER_SECRETS)
    return load_settings(MappingSource(config.values, config.secret_keys))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", help="read Pulumi.<stack>.yaml on top of the defaults")
    args = parser.parse_args()
    print(table(budget(settings_for(args.stack))))


if __name__ == "__main__":
    main()
