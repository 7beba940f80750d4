"""The README starts a user in one screen, and every link in the documentation leads somewhere."""

from __future__ import annotations

from tests.support.docs import DOCS, README, ROOT, anchors, relative_links, slug, user_docs

# docs/settings.md is generated from the settings model (scripts/pulumi_config.py) and may not be
# in this checkout yet: links to it are the one target not checked here.
GENERATED = {DOCS / "settings.md"}


def test_the_readme_fits_on_one_screen() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move a long topic to docs/"


def test_the_readme_links_every_page_in_docs() -> None:
    linked = {link.path for link in relative_links(README)}
    assert [p.name for p in sorted(DOCS.glob("*.md")) if p not in linked] == []
    assert linked >= GENERATED  # the settings reference too


def test_every_relative_link_points_at_a_file_that_exists() -> None:
    broken = [
        f"{link.source.relative_to(ROOT)}: {link.target}"
        for path in user_docs()
        for link in relative_links(path)
        if link.path not in GENERATED and not link.path.exists()
    ]
    assert broken == []


def test_every_anchor_names_a_heading_of_its_file() -> None:
    broken = [
        f"{link.source.relative_to(ROOT)}: {link.target}"
        for path in user_docs()
        for link in relative_links(path)
        if link.anchor
        and link.path not in GENERATED
        and link.path.suffix == ".md"
        and link.anchor not in anchors(link.path)
    ]
    assert broken == []


def test_anchors_follow_githubs_rule() -> None:
    assert slug("Render mode (GitOps)") == "render-mode-gitops"
    cedana = "`cedana` (default): the refresher sidecar"
    assert slug(cedana) == "cedana-default-the-refresher-sidecar"
    assert slug("The pipeline lab's figures") == "the-pipeline-labs-figures"
    assert slug("One writer, every series exactly once") == "one-writer-every-series-exactly-once"
