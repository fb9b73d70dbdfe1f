"""What a newcomer reads first: a README short enough to be a front door, whose links, and
those of the docs/ pages it leads to, all arrive somewhere (a file, and the heading named)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target) and ![picture](target)


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def test_the_readme_is_a_front_door_of_at_most_150_lines():
    assert len(README.read_text().splitlines()) <= 150


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.name)
def test_every_link_and_picture_leads_to_a_file_and_a_heading(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if "://" in target:
            continue  # the web: not checked offline
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists() or (anchor and anchor not in _anchors(file)):
            broken.append(target)
    assert not broken, broken


def test_the_readme_leads_to_every_docs_page():
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in LINK.findall(README.read_text())}
    assert DOCS and not [p.name for p in DOCS if p.resolve() not in linked]
