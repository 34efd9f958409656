"""The playbook: one global list of lessons in the ACE format, with usage counters.

A bullet renders as one line ``[slug-00042] helpful=H harmful=D :: text`` under its section
header (``## STRATEGIES & INSIGHTS``). Ids are stable: the number is a playbook-wide counter
that never reuses a value, and the slug comes from the section. ``Playbook.parse`` reads the
rendered text back (exact round trip); ``save``/``load`` keep the full state (steps, neutral
counts, id counter) as JSON, written by the run directory's atomic writer.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rundir import read_json_object, write_json_atomic

# The ACE sections with the slug used in bullet ids.
ACE_SECTIONS: tuple[tuple[str, str], ...] = (
    ("strategies & insights", "str"),
    ("formulas & calculations", "calc"),
    ("code snippets & templates", "code"),
    ("common mistakes to avoid", "err"),
    ("problem-solving heuristics", "heur"),
    ("context clues & indicators", "ctx"),
    ("others", "misc"),
)
FALLBACK_SECTION = "others"
MAX_BULLET_CHARS = 600  # a lesson longer than this is an essay, not a bullet

_LINE = re.compile(
    r"^\[(?P<id>[a-z0-9_]+-\d{5,})\] helpful=(?P<h>\d+) harmful=(?P<d>\d+) :: (?P<text>.*)$"
)
_HEADER = re.compile(r"^## (?P<name>.+?)\s*$")
_ID = re.compile(r"^(?P<slug>[a-z0-9_]+)-(?P<num>\d{5,})$")


def approx_tokens(text: str) -> int:
    """Rough token count (about 4 characters a token) for when no tokenizer is at hand."""
    return (len(text) + 3) // 4


def normalize_text(text: Any) -> str:
    """A bullet is one line: collapse all whitespace (newlines included) and cap its length."""
    flat = " ".join(str(text).split())
    return flat[:MAX_BULLET_CHARS]


def section_key(name: str) -> str:
    """Canonical form of a section name for lenient matching (``Strategies_and_Insights``)."""
    name = name.lower().replace("&", " and ").replace("_", " ").replace("-", " ")
    return " ".join(w for w in name.split() if w != "and")


def make_slug(name: str, taken: Iterable[str] = ()) -> str:
    """A short id prefix from a section name: up to 4 letters of its first word, made unique."""
    words = re.findall(r"[a-z0-9]+", name.lower()) or ["sec"]
    base = words[0][:4]
    slug, k = base, 2
    taken = set(taken)
    while slug in taken:
        slug, k = f"{base}{k}", k + 1
    return slug


@dataclass
class Bullet:
    """One lesson and its record: counters from reflection tags, and the steps it was
    created at and last tagged helpful or harmful at (``last_used``)."""

    id: str
    section: str
    text: str
    helpful: int = 0
    harmful: int = 0
    neutral: int = 0
    created_step: int = 0
    last_used: int | None = None

    def line(self) -> str:
        return f"[{self.id}] helpful={self.helpful} harmful={self.harmful} :: {self.text}"

    @property
    def value(self) -> int:
        return self.helpful - self.harmful


@dataclass
class Playbook:
    """Sections in a fixed order and the bullets in each, in insertion order."""

    sections: list[tuple[str, str]] = field(default_factory=lambda: list(ACE_SECTIONS))
    bullets: dict[str, Bullet] = field(default_factory=dict)
    next_id: int = 1

    # -- sections --------------------------------------------------------------------------------
    def resolve_section(self, name: Any) -> str | None:
        """The configured section a model's spelling refers to (name or slug), else None."""
        if not isinstance(name, str):
            return None
        key = section_key(name)
        for sec, slug in self.sections:
            if key in (section_key(sec), slug):
                return sec
        return None

    def add_section(self, name: str) -> str:
        found = self.resolve_section(name)
        if found is not None:
            return found
        name = " ".join(name.lower().split())
        self.sections.append((name, make_slug(name, (s for _, s in self.sections))))
        return name

    def _slug(self, section: str) -> str:
        return dict(self.sections)[section]

    # -- bullets ---------------------------------------------------------------------------------
    def add(self, section: Any, text: Any, step: int) -> Bullet | None:
        """Add a lesson; an unknown section goes to ``others``; empty text adds nothing."""
        text = normalize_text(text)
        if not text:
            return None
        sec = self.resolve_section(section) or self.resolve_section(FALLBACK_SECTION)
        if sec is None:
            sec = self.add_section(FALLBACK_SECTION)
        bid = f"{self._slug(sec)}-{self.next_id:05d}"
        self.next_id += 1
        bullet = Bullet(bid, sec, text, created_step=step)
        self.bullets[bid] = bullet
        return bullet

    def remove(self, ids: Iterable[str]) -> list[Bullet]:
        return [self.bullets.pop(i) for i in list(ids) if i in self.bullets]

    def __len__(self) -> int:
        return len(self.bullets)

    def __contains__(self, bid: object) -> bool:
        return bid in self.bullets

    def get(self, bid: str) -> Bullet | None:
        return self.bullets.get(bid)

    def in_section(self, section: str) -> list[Bullet]:
        return [b for b in self.bullets.values() if b.section == section]

    # -- text format -----------------------------------------------------------------------------
    def render(
        self,
        token_budget: int | None = None,
        count_tokens: Callable[[str], int] = approx_tokens,
        keep: Iterable[str] | None = None,
    ) -> str:
        """The ACE text: non-empty sections in order, each bullet one line.

        With ``token_budget``, the highest-value bullets that fit are kept (value =
        helpful - harmful, then most recently used, then newest) and the rest dropped whole;
        the order of what remains is unchanged. ``keep`` restricts rendering to those ids.
        """
        chosen = list(self.bullets.values())
        if keep is not None:
            wanted = set(keep)
            chosen = [b for b in chosen if b.id in wanted]
        if token_budget is None:
            return self._render(chosen)
        ranked = sorted(chosen, key=_keep_priority, reverse=True)
        lo, hi = 0, len(ranked)  # largest k whose top-k render fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count_tokens(self._render(ranked[:mid])) <= token_budget:
                lo = mid
            else:
                hi = mid - 1
        ids = {b.id for b in ranked[:lo]}
        return self._render([b for b in chosen if b.id in ids])

    def _render(self, bullets: list[Bullet]) -> str:
        blocks = []
        for sec, _slug in self.sections:
            lines = [b.line() for b in bullets if b.section == sec]
            if lines:
                blocks.append("\n".join([f"## {sec.upper()}", *lines]))
        return "\n\n".join(blocks)

    @classmethod
    def parse(
        cls, text: str, sections: Iterable[tuple[str, str]] = ACE_SECTIONS
    ) -> tuple[Playbook, int]:
        """Read ACE text back. Returns the playbook and the number of lines it could not read
        (bullets before any header go to ``others``). Unknown headers become new sections."""
        pb = cls(sections=list(sections))
        current = pb.resolve_section(FALLBACK_SECTION) or pb.add_section(FALLBACK_SECTION)
        unparsed = 0
        for raw in text.splitlines():
            if not raw.strip():
                continue
            header = _HEADER.match(raw)
            if header:
                current = pb.add_section(header.group("name"))
                continue
            m = _LINE.match(raw)
            if not m or m.group("id") in pb.bullets:
                unparsed += 1
                continue
            bid = m.group("id")
            pb.bullets[bid] = Bullet(
                bid, current, m.group("text"), helpful=int(m.group("h")), harmful=int(m.group("d"))
            )
            pb.next_id = max(pb.next_id, int(_ID.match(bid).group("num")) + 1)
        return pb, unparsed

    # -- persistence -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "sections": [list(s) for s in self.sections],
            "next_id": self.next_id,
            "bullets": [asdict(b) for b in self.bullets.values()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Playbook:
        pb = cls(sections=[(str(n), str(s)) for n, s in data["sections"]])
        pb.next_id = int(data["next_id"])
        for b in data["bullets"]:
            pb.bullets[b["id"]] = Bullet(**b)
        return pb

    def snapshot(self) -> dict[str, list[int]]:
        """Compact state for the per-step history: id -> [helpful, harmful]."""
        return {b.id: [b.helpful, b.harmful] for b in self.bullets.values()}

    def save(self, path: str | os.PathLike) -> None:
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Playbook:
        return cls.from_dict(read_json_object(Path(path)))


def _keep_priority(b: Bullet) -> tuple[int, int, int, int]:
    last = b.last_used if b.last_used is not None else -1
    return (b.value, last, b.created_step, int(_ID.match(b.id).group("num")))
