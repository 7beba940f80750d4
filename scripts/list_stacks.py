"""Prints the stacks of this repository (one per Pulumi.<stack>.yaml) as a JSON matrix.

    python3 scripts/list_stacks.py [--only a,b]

Each entry names the stack and the suffix of its repository secret, KUBECONFIG_<SUFFIX>
(upper case, non-alphanumerics as "_"), for the workflows' matrices. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def secret_suffix(stack: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", stack.upper())


def stacks(root: Path = ROOT, only: set[str] | None = None) -> list[dict[str, str]]:
    names = sorted(
        p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml")
    )
    unknown = sorted((only or set()) - set(names))
    if unknown:
        raise SystemExit(f"no stack file for: {', '.join(unknown)}")
    return [
        {"stack": name, "secret": secret_suffix(name)} for name in names if not only or name in only
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated stacks (default: all)")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()} or None
    print(json.dumps(stacks(only=only)))


if __name__ == "__main__":
    main()
