"""Writes Pulumi.yaml's `config:` block from the settings model (components/config/model.py).

.venv/bin/python scripts/pulumi_config.py          # rewrite the block
.venv/bin/python scripts/pulumi_config.py --check  # exit 1 if the file is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.config.pulumi_yaml import with_config_block  # noqa: E402

PULUMI_YAML = ROOT / "Pulumi.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check, do not write")
    args = parser.parse_args()
    current = PULUMI_YAML.read_text()
    wanted = with_config_block(current)
    if args.check:
        if current != wanted:
            print("Pulumi.yaml is out of date: run scripts/pulumi_config.py", file=sys.stderr)
            return 1
        return 0
    PULUMI_YAML.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
