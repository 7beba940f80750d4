"""Writes Pulumi.yaml's `config:` block and docs/settings.md from the settings model
(components/config/model.py).

.venv/bin/python scripts/pulumi_config.py          # rewrite both
.venv/bin/python scripts/pulumi_config.py --check  # exit 1 if either is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts import settings_reference  # noqa: E402
from scripts.pulumi_yaml import with_config_block  # noqa: E402

PULUMI_YAML = ROOT / "Pulumi.yaml"
SETTINGS_MD = ROOT / "docs" / "settings.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only check, do not write")
    args = parser.parse_args()
    wanted = {
        PULUMI_YAML: with_config_block(PULUMI_YAML.read_text()),
        SETTINGS_MD: settings_reference.render(),
    }
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"{path.name} is out of date: run scripts/pulumi_config.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(exist_ok=True)
        path.write_text(wanted[path])
    return 0


if __name__ == "__main__":
    sys.exit(main())
