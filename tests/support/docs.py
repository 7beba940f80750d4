"""The user documentation: README.md and docs/<name>.md, read by name; their links and anchors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"`[^`]*`")


def doc(name: str) -> str:
    """The text of docs/<name>.md (`doc("sizing")`), or of README.md for `doc("README")`."""
    path = README if name == "README" else DOCS / f"{name}.md"
    return path.read_text()


def user_docs() -> list[Path]:
    """README.md and every docs/*.md."""
    return [README, *sorted(DOCS.glob("*.md"))]


def prose(text: str) -> list[str]:
    """The lines outside fenced code blocks (a `# comment` in a bash block is no heading)."""
    lines: list[str] = []
    fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if not fence:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation other than '-' and '_' dropped,
    spaces as '-'."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file; a repeated heading gets -1, -2, … as on GitHub."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in prose(path.read_text()):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


@dataclass(frozen=True)
class Link:
    source: Path
    target: str

    @property
    def path(self) -> Path:
        """The file the link points at (the source itself for `#anchor`)."""
        file = self.target.split("#", 1)[0]
        return (self.source.parent / file).resolve() if file else self.source

    @property
    def anchor(self) -> str:
        return self.target.split("#", 1)[1] if "#" in self.target else ""


def relative_links(path: Path) -> list[Link]:
    """The links of a Markdown file that stay in the repository (no scheme, no mailto)."""
    links: list[Link] = []
    for line in prose(path.read_text()):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue
            links.append(Link(path, target))
    return links
