"""Every relative link of README.md and docs/ leads to a file of this repository.

A link is checked when it is a Markdown link or image, inline (`[text](path)`,
`![alt](path)`) or a reference definition (`[label]: path`), outside code. Web addresses
(`http:`, `https:`), `mailto:` and links to an anchor of the same page are left alone;
everything else must, with its `#anchor` stripped, name a file or folder that exists
relative to the page and lies inside the repository. An anchor into a Markdown page must
name one of its headings.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1", re.DOTALL)
_INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.MULTILINE)
_EXTERNAL = ("http://", "https://", "mailto:")


def links(text: str) -> list[str]:
    """The link targets of a Markdown text, code blocks and code spans left out."""
    prose = _CODE.sub("", _FENCE.sub("", text))
    found = [m.group(1) for m in _INLINE.finditer(prose)]
    found += [m.group(1) for m in _DEFINITION.finditer(prose)]
    return [target.strip("<>") for target in found]


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation (but - and _) dropped, spaces
    to dashes."""
    text = re.sub(r"[`*]|<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in _FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            base = slug(heading.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """Each link of `page` that does not resolve inside `root`, with the reason."""
    problems = []
    for target in links(page.read_text(encoding="utf-8")):
        if target.startswith(_EXTERNAL):
            continue
        path, _, anchor = unquote(target).partition("#")
        if not path:  # an anchor of this page
            if anchor and anchor not in anchors(page):
                problems.append(f"{target}: no heading #{anchor} in this page")
            continue
        if re.match(r"^[a-z][a-z0-9+.-]*:", path):
            problems.append(f"{target}: not a web address nor a file of the repository")
            continue
        resolved = (page.parent / path).resolve()
        if not resolved.is_relative_to(root.resolve()):
            problems.append(f"{target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_resolves_inside_the_repository(page: Path):
    assert not broken_links(page), f"{page.relative_to(ROOT)}: {broken_links(page)}"


def test_the_pages_have_links_to_check():
    readme = links((ROOT / "README.md").read_text(encoding="utf-8"))
    assert "docs/alarm-chart.png" in readme
    assert "docs/operations.md" in readme


def test_the_checker_flags_broken_links(tmp_path: Path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "there.md").write_text("# There\n\n## A section\n", encoding="utf-8")
    (tmp_path / "outside.md").write_text("# Outside\n", encoding="utf-8")
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n"
        "[fine](there.md) [fine too](there.md#a-section) [here](#page)\n"
        "![image](missing.png) [gone](nowhere.md) [up](../../secret.md)\n"
        "[no section](there.md#nope) [no anchor](#nope) [web](https://example.com/x)\n"
        "[mail](mailto:oncall@example.com) [odd](ftp://example.com/x)\n\n"
        "[def]: ../../../shared/DESIGN.md\n\n"
        "```\n[in code](not-checked.md)\n```\n`[in a span](not-checked.md)`\n",
        encoding="utf-8",
    )
    root = tmp_path / "docs"  # a repository whose root is docs/: ../outside.md is outside
    assert broken_links(page, root) == [
        "missing.png: no such file",
        "nowhere.md: no such file",
        "../../secret.md: outside the repository",
        "there.md#nope: no heading #nope in there.md",
        "#nope: no heading #nope in this page",
        "ftp://example.com/x: not a web address nor a file of the repository",
        "../../../shared/DESIGN.md: outside the repository",
    ]
    (tmp_path / "docs" / "missing.png").write_bytes(b"")
    assert "missing.png: no such file" not in broken_links(page, root)


def test_github_anchors():
    assert slug("What differs from AWS (the emulator)") == "what-differs-from-aws-the-emulator"
    assert slug("`spans` (1.1): OpenTelemetry span trees") == "spans-11-opentelemetry-span-trees"
    assert slug("AWS Lambda (SAM)") == "aws-lambda-sam"
