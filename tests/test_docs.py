"""The method description the code cites lives in this repository, and its citations resolve."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METHOD = ROOT / "docs" / "METHOD.md"
SOURCES = ("README.md", "benchmarks", "chat", "envs", "leaderboard", "learners", "reflection")
# "docs/METHOD.md section 4.7", "docs/METHOD.md (sections 3.3, 4.8 and 5)", "..., section 6"
CITATION = re.compile(r"docs/METHOD\.md[\s,()]*sections?\s+((?:\d[\d.]*(?:,\s*|\s+and\s+)?)+)")


def cited_files() -> list[Path]:
    files = []
    for name in SOURCES:
        path = ROOT / name
        files += (
            [path] if path.is_file() else sorted(path.rglob("*.py")) + sorted(path.rglob("*.toml"))
        )
    return files


def test_nothing_cites_a_document_outside_the_repository():
    for path in cited_files():
        text = path.read_text()
        assert "RESD.md" not in text and "shared/docs" not in text, path


def test_every_section_the_code_cites_exists():
    headings = {n.rstrip(".") for n in re.findall(r"^#{2,3} (\d[\d.]*) ", METHOD.read_text(), re.M)}
    cited = set()
    for path in cited_files():
        for match in CITATION.finditer(" ".join(path.read_text().split())):
            cited.update(n.rstrip(".") for n in re.findall(r"\d[\d.]*", match.group(1)))
    assert cited, "no citation of docs/METHOD.md found"
    assert cited <= headings, f"cited but missing: {sorted(cited - headings)}"
