"""`scripts/verify [--stack NAME] [--json] [--timeout SECONDS]`: is this stack's data reaching
Cedana? One line per check, ✓ or ✗, and for each ✗ the one thing to do.

Exit status: 0 when every check is ✓ (which includes a successful write to S3 within the last
few minutes: data flows), 1 when one is ✗, 2 when verify could not look (no stack, a setting it
cannot read, a cluster that does not answer).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from components.config import GpuMode, Settings
from scripts.stack_files import ROOT
from verify.delivery import (
    check_buffers,
    check_credentials,
    check_dcgm_external,
    check_remote_write,
    check_s3_writes,
)
from verify.read import api_client, read_snapshot
from verify.stack import StackError, Target, target
from verify.verdict import Snapshot, Unread, Verdict
from verify.workloads import (
    check_agents,
    check_collector_volume,
    check_dcgm,
    check_workloads,
    config_set,
)

DEFAULT_TIMEOUT = 8.0
OK, BROKEN = "✓", "✗"  # ✓ ✗


def checks(snapshot: Snapshot, settings: Settings) -> list[Verdict]:
    """Every check, in the order a user fixes things: what runs, then what flows."""
    found = [check_workloads(snapshot, settings), check_agents(snapshot, settings)]
    if settings.gpu_mode is GpuMode.INSTALL:
        found.append(check_dcgm(snapshot, settings))
    elif settings.gpu_mode is GpuMode.EXTERNAL:
        found.append(check_dcgm_external(snapshot, settings))
    found += [
        check_collector_volume(snapshot, settings),
        check_s3_writes(snapshot, settings),
        check_credentials(snapshot, settings),
        check_buffers(snapshot, settings),
        check_remote_write(snapshot, settings),
    ]
    return found


@dataclass
class Report:
    stack: str
    context: str | None
    namespace: str
    verdicts: list[Verdict] = field(default_factory=list)
    error: str | None = None  # why verify could not look at all
    fix: str | None = None
    seconds: float = 0.0
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.verdicts) and all(v.ok for v in self.verdicts)

    @property
    def flowing(self) -> bool:
        """Data reaches S3: the collector wrote there within the last few minutes."""
        return any(v.check == "s3-writes" and v.ok for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return 2
        return 0 if self.ok else 1

    def first_problem(self) -> str:
        if self.error:
            return self.error
        broken = next((v for v in self.verdicts if not v.ok), None)
        return broken.line if broken else ""

    def as_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "context": self.context,
            "namespace": self.namespace,
            "checked_at": self.checked_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "seconds": round(self.seconds, 2),
            "ok": self.ok,
            "flowing": self.flowing,
            "error": self.error,
            "fix": self.fix,
            "checks": [v.as_json() for v in self.verdicts],
        }

    def text(self) -> str:
        context = self.context or "(current context)"
        lines = [
            f"verify {self.stack}: context {context}, namespace {self.namespace}"
            f" ({self.seconds:.1f} s)"
        ]
        if self.error:
            lines.append(f"{BROKEN} {self.error}")
            if self.fix:
                lines.append(f"  fix: {self.fix}")
        for verdict in self.verdicts:
            lines.append(f"{OK if verdict.ok else BROKEN} {verdict.line}")
            if verdict.fix and not verdict.ok:
                lines.append(f"  fix: {verdict.fix}")
        if self.ok:
            lines.append("data reaches Cedana")
        elif self.error is None:
            broken = sum(not v.ok for v in self.verdicts)
            flows = "data reaches S3, but" if self.flowing else "data does not reach Cedana:"
            lines.append(f"{flows} {broken} of {len(self.verdicts)} checks failed")
        return "\n".join(lines)


Connect = Callable[[str | None], Any]


def cluster_unreadable(snapshot: Snapshot) -> Unread | None:
    """Why the cluster could not be looked at (no nodes, no pods, no DaemonSets read), or
    None when it could."""
    reads = (snapshot.nodes, snapshot.pods, snapshot.daemonsets)
    if all(isinstance(r, Unread) for r in reads):
        first = reads[0]
        assert isinstance(first, Unread)
        return first
    return None


def unreadable_fix(why: Unread) -> str:
    if why.status == 401:
        return "log in to the cluster again: its API server refuses the kubeconfig's credentials"
    if why.status == 403:
        return "use a kubeconfig context whose user may read nodes, pods and workloads"
    return "check the context: kubectl --context <kubeContext> get nodes"


def verify(
    found: Target,
    timeout: float = DEFAULT_TIMEOUT,
    connect: Connect = api_client,
) -> Report:
    """Reads the stack's cluster and judges it."""
    started = time.monotonic()
    report = Report(found.stack, found.context, found.namespace)
    try:
        api = connect(found.context)
    except Exception as error:
        report.error = f"cluster: no kubeconfig context {found.context or '(current)'}: {error}"
        report.fix = f"{config_set('kubeContext', '<context>')} (kubectl config get-contexts)"
        report.seconds = time.monotonic() - started
        return report
    try:
        snapshot = read_snapshot(api, found.settings, timeout)
    finally:
        api.close()
    unreadable = cluster_unreadable(snapshot)
    if unreadable is not None:
        answer = "did not answer" if unreadable.status is None else "refused to be read"
        report.error = (
            f"cluster: {found.context or 'the current context'} {answer} ({unreadable.why})"
        )
        report.fix = unreadable_fix(unreadable)
    else:
        report.verdicts = checks(snapshot, found.settings)
    report.seconds = time.monotonic() - started
    return report


def verify_stack(stack: str | None, timeout: float = DEFAULT_TIMEOUT, root: Path = ROOT) -> Report:
    """One stack, from its name (None: the selected one); errors of the stack become the
    report's error, never a raise (scripts/clusters.py runs this for every stack)."""
    try:
        found = target(stack, root)
    except StackError as error:
        return Report(stack or "?", None, "?", error=str(error), fix="see the message")
    return verify(found, timeout)


def emit(report: Report, as_json: bool, out: TextIO) -> None:
    if as_json:
        out.write(json.dumps(report.as_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        out.write(report.text() + "\n")


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(prog="scripts/verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", help="the stack to verify (default: the selected one)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for CI)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"seconds each read of the cluster may take (default {DEFAULT_TIMEOUT:g})",
    )
    args = parser.parse_args(argv)
    report = verify_stack(args.stack, args.timeout, root)
    # Say ✓ and ✗ even where the locale cannot (a CI runner's C locale).
    out = sys.stdout
    if (
        isinstance(out, io.TextIOWrapper)
        and (out.encoding or "").lower().replace("-", "") != "utf8"
    ):
        out.reconfigure(encoding="utf-8")
    emit(report, args.json, out)
    return report.exit_code
