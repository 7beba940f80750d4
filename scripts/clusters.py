"""Previews, updates or verifies every cluster's stack, or some of them: one line per cluster.

    .venv/bin/python scripts/clusters.py preview                  # every Pulumi.<stack>.yaml
    .venv/bin/python scripts/clusters.py preview --stacks a,b
    .venv/bin/python scripts/clusters.py up --stacks prod-eu --yes --parallel 2
    .venv/bin/python scripts/clusters.py verify --parallel 4      # does data reach Cedana?

preview and up use Pulumi's Automation API (the `pulumi` CLI must be installed and logged in to
the backend holding the stacks; PULUMI_CONFIG_PASSPHRASE as for any command); verify reads each
stack's file and its cluster (scripts/verify). Exits 1 if any stack failed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.list_stacks import stacks as stack_entries  # noqa: E402

SYMBOLS = {"create": "+", "update": "~", "replace": "+-", "delete": "-", "same": "="}


@dataclass
class Outcome:
    stack: str
    command: str
    ok: bool
    changes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""
    detail: str = ""  # what an ok outcome says, when it is not a change summary


Runner = Callable[[str, str], Outcome]


def run_stack(stack: str, command: str) -> Outcome:
    """One stack through the Automation API; every failure becomes an Outcome, not a raise."""
    started = time.monotonic()
    if command == "verify":
        return verify_one(stack)
    try:
        from pulumi import automation as auto  # noqa: PLC0415 - only this path needs the CLI

        selected = auto.select_stack(stack_name=stack, work_dir=str(ROOT))
        if command == "preview":
            changes = dict(selected.preview(diff=True).change_summary)
        else:
            result = selected.up(diff=True)
            changes = dict(result.summary.resource_changes or {})
    except Exception as error:
        return Outcome(
            stack, command, False, seconds=time.monotonic() - started, error=_first_line(error)
        )
    return Outcome(stack, command, True, changes, time.monotonic() - started)


def verify_one(stack: str) -> Outcome:
    """scripts/verify for one stack: ok when every check is ✓, else its first ✗."""
    from verify.cli import verify_stack  # noqa: PLC0415 - reads clusters only on this path

    report = verify_stack(stack)
    passed = f"{len(report.verdicts)} checks ✓, data reaches Cedana"
    return Outcome(
        stack,
        "verify",
        report.ok,
        seconds=report.seconds,
        error="" if report.ok else report.first_problem(),
        detail=passed if report.ok else "",
    )


def _first_line(error: BaseException) -> str:
    for line in str(error).splitlines():
        if line.strip() and not line.strip().startswith(("code:", "stdout:", "stderr:")):
            return f"{type(error).__name__}: {line.strip()}"
    return type(error).__name__


def summary_line(outcome: Outcome, width: int) -> str:
    status = "ok" if outcome.ok else "FAILED"
    if outcome.ok and outcome.detail:
        detail = outcome.detail
    elif outcome.ok:
        detail = (
            " ".join(
                f"{SYMBOLS.get(kind, kind)}{count}"
                for kind, count in sorted(outcome.changes.items())
            )
            or "no changes"
        )
    else:
        detail = outcome.error
    took = f"({outcome.seconds:.1f} s)"
    return f"{outcome.stack:<{width}}  {outcome.command:<7}  {status:<6}  {detail}  {took}"


def main(argv: list[str] | None = None, runner: Runner = run_stack) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["preview", "up", "verify"])
    parser.add_argument("--stacks", default="", help="comma-separated stacks (default: all)")
    parser.add_argument("--parallel", type=int, default=1, help="stacks at a time (default 1)")
    parser.add_argument("--yes", action="store_true", help="confirm `up` without prompting")
    args = parser.parse_args(argv)
    if args.command == "up" and not args.yes:
        print("refusing to update clusters without --yes (run `preview` first)", file=sys.stderr)
        return 2
    only = {s.strip() for s in args.stacks.split(",") if s.strip()} or None
    names = [entry["stack"] for entry in stack_entries(only=only)]
    if not names:
        print("no stacks: add a Pulumi.<stack>.yaml per cluster", file=sys.stderr)
        return 2
    width = max(len(n) for n in names)
    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        outcomes = list(pool.map(lambda name: runner(name, args.command), names))
    for outcome in outcomes:
        print(summary_line(outcome, width))
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
