"""Builds the pull-request comment for one stack's `pulumi preview`, under GitHub's size limit.

    python3 scripts/preview_comment.py --stack dev --outcome success --run-url URL < preview.txt

The comment carries the resource summary (the lines from "Resources:" on) and, if they fit,
the changed resources; the full diff is in the job summary and the uploaded artifact. A hidden
marker lets the workflow update the stack's previous comment instead of adding one per push.
Standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys

# GitHub refuses comment bodies over 65,536 characters; stay well below.
LIMIT = 60_000
CHANGE = re.compile(r"^\s*[+\-~]{1,2}\s|^\s*\+-\s|^\s*-\+\s")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def marker(stack: str) -> str:
    return f"<!-- cedana-monitoring-preview:{stack} -->"


def _split(output: str) -> tuple[list[str], list[str]]:
    """(the plan, the summary from "Resources:" on)."""
    lines = ANSI.sub("", output).splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("Resources:"):
            return lines[:i], lines[i:]
    return lines, lines[-20:]


def summary(output: str) -> str:
    return "\n".join(_split(output)[1]).strip()


def changes(output: str) -> list[str]:
    return [line.rstrip() for line in _split(output)[0] if CHANGE.match(line)]


def comment(stack: str, outcome: str, run_url: str, output: str, limit: int = LIMIT) -> str:
    icon = {"success": "✅", "failure": "❌"}.get(outcome, "⚠️")
    head = [
        marker(stack),
        f"### {icon} `pulumi preview` — stack `{stack}` ({outcome})",
        "",
        "```",
        summary(output),
        "```",
    ]
    tail = [
        "",
        f"Full preview: the job summary and the `preview-{stack}` artifact"
        f" of [this run]({run_url}).",
    ]
    body = "\n".join(head + tail)
    lines = changes(output)
    if lines:
        block = ["", "<details><summary>Changed resources</summary>", "", "```diff"]
        end = ["```", "</details>"]
        room = limit - len(body) - len("\n".join(block + end)) - 200
        kept: list[str] = []
        used = 0
        for line in lines:
            if used + len(line) + 1 > room:
                kept.append(f"… {len(lines) - len(kept)} more lines in the full preview")
                break
            kept.append(line)
            used += len(line) + 1
        body = "\n".join(head + block + kept + end + tail)
    return body[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--outcome", required=True)
    parser.add_argument("--run-url", required=True)
    args = parser.parse_args()
    print(comment(args.stack, args.outcome, args.run_url, sys.stdin.read()))


if __name__ == "__main__":
    main()
