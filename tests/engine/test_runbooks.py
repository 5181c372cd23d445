from pathlib import Path

import pytest

from bot.config import BUNDLED_RUNBOOKS
from bot.engine.runbooks import RunbookError, by_category, load_runbooks, search
from bot.models import Category


def test_bundled_runbooks_cover_every_category_once():
    books = load_runbooks(BUNDLED_RUNBOOKS)
    assert sorted(b.category for b in books) == sorted(Category)
    for book in books:
        assert book.id == Path(book.path).stem
        assert {"## What to check", "## How to verify", "## How to roll back"} <= {
            line.strip() for line in book.body.splitlines()
        }, book.id


def test_search_ranks_signal_matches_first():
    books = load_runbooks(BUNDLED_RUNBOOKS)
    assert search(books, "AccessDeniedException")[0].category is Category.ACCESS_DENIED
    assert search(books, "InvocationThrottles")[0].category is Category.MODEL_THROTTLING
    assert len(search(books, "")) == len(books)
    assert search(books, "zzzqqq") == []


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)


GOOD = """---
id: x
title: X
category: access_denied
severity: high
signals: [AccessDeniedException]
remediation: ["Restore the policy"]
links: [{title: IAM, url: "https://docs.aws.amazon.com/iam/"}]
---
## What to check
"""


def test_a_valid_runbook_loads(tmp_path: Path):
    write(tmp_path, "x.md", GOOD)
    assert by_category(load_runbooks(tmp_path))[Category.ACCESS_DENIED].id == "x"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("# no front matter\n", "no YAML front matter"),
        (GOOD.replace("severity: high", "severity: apocalyptic"), "severity"),
        (GOOD.replace("category: access_denied", "category: gremlins"), "category"),
        (
            GOOD.replace('url: "https://docs.aws.amazon.com/iam/"', "url: not-a-url"),
            r"links\[0\].url",
        ),
        (GOOD.replace("signals: [AccessDeniedException]", "signals: []"), "signals"),
        (GOOD.replace("title: X", "title: [unclosed"), "not valid YAML"),
    ],
)
def test_a_malformed_runbook_names_file_and_field(tmp_path: Path, text: str, words: str):
    write(tmp_path, "bad.md", text)
    with pytest.raises(RunbookError, match=words) as caught:
        load_runbooks(tmp_path)
    assert "bad.md" in str(caught.value)


def test_duplicate_ids_are_rejected(tmp_path: Path):
    write(tmp_path, "a.md", GOOD)
    write(tmp_path, "b.md", GOOD)
    with pytest.raises(RunbookError, match="already used"):
        load_runbooks(tmp_path)
