"""The suite's mutation score: mutmut over a stratified sample of the mutants of `components/`
and `cred_refresher/`, judged by every test but the lab's, the simulated cluster's, the real
node's and kind's ([tool.mutmut] in pyproject.toml). Prints the sample, every survivor and the
share killed; equivalent mutants (a change no user could notice) are listed below by name, with
why, and left out of the score.

    .venv/bin/python bench/mutation.py [--sample 300] [--seed 18] [--workers 2]

It works in ./mutants (git-ignored), where mutmut keeps a mutated copy of the tree (regenerated
for files that changed); `--report` prints the verdicts held there without running anything.
A run of the whole sample takes hours on two cores. The numbering of a function's mutants
follows its code: after a change to one, look at its names in EQUIVALENT again
(`.venv/bin/mutmut show <name>`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
MUTMUT = ROOT / ".venv" / "bin" / "mutmut"
# What the tests find beside the tree (the VRL compiler's and checkov's virtualenvs).
LINKED = (".venv", ".venv-vrl", ".venv-checkov")
KILLED = {"killed", "timeout", "caught by type check"}

# mutant name -> why no test can tell it from the original.
EQUIVALENT: dict[str, str] = {}
# The tests that run the refresher as its own process, as it runs in its container. mutmut sees
# which tests reach a function in the test process only, so code the refresher runs in its own
# process has "no tests" for it; those mutants are judged again by these tests, with the mutant
# active in the refresher's process too (tests/support/sidecar.py passes MUTANT_UNDER_TEST on).
PROCESS_TESTS = [
    "tests/test_cedana_target.py",
    "tests/test_delivery.py",
    *sorted(f"tests/{p.name}" for p in (ROOT / "tests").glob("test_cred_refresher*.py")),
]


def strata(name: str) -> str:
    """A mutant's part: components.<part> or cred_refresher."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "components" else parts[0]


def generated_mutants() -> dict[str, int | None]:
    """Every mutant mutmut wrote into ./mutants, with its last verdict (None: not run)."""
    found: dict[str, int | None] = {}
    for meta in MUTANTS.rglob("*.py.meta"):
        found.update(json.loads(meta.read_text())["exit_code_by_key"])
    return found


def generate() -> None:
    """Writes the mutated copy of the tree: mutmut's own first step, without running the tests."""
    MUTANTS.mkdir(exist_ok=True)
    for name in LINKED:
        link = MUTANTS / name
        if (ROOT / name).exists() and not link.exists():
            link.symlink_to(ROOT / name)
    code = (
        "from mutmut.__main__ import create_mutants\n"
        "from mutmut.mutation.trampoline import set_mutant_under_test\n"
        "from mutmut.utils.file_utils import copy_also_copy_files, copy_src_dir\n"
        "set_mutant_under_test('mutant_generation')\n"
        "copy_src_dir(); copy_also_copy_files(); create_mutants(2)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def stratified(names: list[str], size: int, seed: int) -> list[str]:
    """`size` mutants drawn at random within each part, in proportion to its mutants (at least
    one each), so that no part's share of the sample is left to chance."""
    by_part: dict[str, list[str]] = defaultdict(list)
    for name in sorted(names):
        by_part[strata(name)].append(name)
    rng = random.Random(seed)
    sample: list[str] = []
    for members in by_part.values():
        share = max(1, math.ceil(size * len(members) / len(names)))
        sample += rng.sample(members, min(share, len(members)))
    return sorted(sample)


def judged_by_process_tests(name: str) -> str:
    """A mutant of the refresher, judged by the tests that run it as a process."""
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-x", "-q", *PROCESS_TESTS],
        cwd=MUTANTS,
        env={**os.environ, "MUTANT_UNDER_TEST": name},
        capture_output=True,
        timeout=1800,
        check=False,
    )
    return {0: "survived", 1: "killed"}.get(result.returncode, "suspicious")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=300)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--report",
        action="store_true",
        help="only report the sample's verdicts already in ./mutants (no mutmut run)",
    )
    args = parser.parse_args()

    os.chdir(ROOT)
    if not args.report:
        generate()
    every = generated_mutants()
    sample = stratified(list(every), args.sample, args.seed)
    print(
        f"{len(every)} mutants in {len({strata(n) for n in every})} parts; sample of"
        f" {len(sample)} (seed {args.seed})"
    )
    command = [str(MUTMUT), "run", "--max-children", str(args.workers), *sample]
    run = subprocess.run(
        ["true"] if args.report else command, cwd=ROOT, capture_output=True, text=True, check=False
    )
    verdicts = generated_mutants()
    from mutmut.stats import status_by_exit_code  # noqa: PLC0415 (the bench's own venv has it)

    status = {name: status_by_exit_code[verdicts[name]] for name in sample}
    unseen = [
        n for n in sample if strata(n) == "cred_refresher" and status[n] in ("no tests", "survived")
    ]
    with ThreadPoolExecutor(args.workers) as pool:
        for name, verdict in zip(unseen, pool.map(judged_by_process_tests, unseen), strict=True):
            status[name] = verdict
    if any(s == "not checked" for s in status.values()):
        print(run.stdout[-3000:], run.stderr[-3000:], sep="\n")
        print("mutmut did not check the whole sample")
        return 1
    judged = [n for n in sample if n not in EQUIVALENT]
    killed = [n for n in judged if status[n] in KILLED]
    by_part: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name in judged:
        by_part[strata(name)][0] += status[name] in KILLED
        by_part[strata(name)][1] += 1
    for part, (dead, total) in sorted(by_part.items()):
        print(f"  {part:32} {dead:4} of {total:4} killed")
    for name in judged:
        if status[name] not in KILLED:
            print(f"  {status[name]:10} {name}")
    for name in sorted(set(sample) & set(EQUIVALENT)):
        print(f"  equivalent {name}: {EQUIVALENT[name]}")
    score = len(killed) / len(judged)
    print(
        f"mutation score {score:.1%}: {len(killed)} of {len(judged)} killed"
        f" ({len(sample) - len(judged)} equivalent left out)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
