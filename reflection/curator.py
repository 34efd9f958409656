"""The curator: turns a reflection into operations on the one global playbook.

The paper's curator only ADDs lessons (new, non-redundant, concise, actionable; written for a
reader who will not see the feedback). UPDATE, REMOVE and MERGE, and the automatic skipping
of near-duplicate additions, are switches beyond the paper (off by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chat import Conversation
from reflection.lenient_json import extract_json
from reflection.playbook import Bullet, Playbook, approx_tokens, normalize_text
from reflection.reflector import Reflection, clip, normalize_id
from reflection.similarity import make_similarity

OPS = ("ADD", "UPDATE", "REMOVE", "MERGE")
_KIND_KEYS = ("type", "op", "operation", "action")
_TEXT_KEYS = ("content", "text", "bullet", "lesson")
_ID_KEYS = ("bullet_ids", "ids", "bullet_id", "id")


@dataclass
class Operation:
    kind: str
    section: str = ""
    content: str = ""
    bullet_ids: list[str] = field(default_factory=list)


@dataclass
class CurationStats:
    """What curation did in one step (for the history and the step report)."""

    added: list[Bullet] = field(default_factory=list)
    updated: list[tuple[str, str]] = field(default_factory=list)  # (id, new text)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)
    duplicates: int = 0  # ADDs skipped as near-duplicates of a bullet
    dropped_ops: int = 0  # malformed, not allowed, or naming unknown bullets
    unparsed: int = 0  # curator outputs with no readable JSON


def parse_operations(text: Any) -> tuple[list[Operation], int, bool]:
    """Operations from ``{"operations": [...]}`` or a bare list; returns (ops, malformed
    entries, whether any JSON was read). Never raises."""
    got = extract_json(text)
    lowered = {str(k).lower(): v for k, v in got.value.items()} if got.ok else {}
    if "operations" in lowered or "ops" in lowered:
        ops_raw = lowered.get("operations", lowered.get("ops"))
        if not isinstance(ops_raw, list):
            ops_raw = [ops_raw] if isinstance(ops_raw, dict) else []
    else:
        listed = extract_json(text, want=list)
        if listed.ok:
            ops_raw = listed.value
        elif got.ok:  # one operation object without the wrapper, or nothing proposed
            single = any(k in lowered for k in (*_KIND_KEYS, *_TEXT_KEYS))
            ops_raw = [got.value] if single else []
        else:
            return [], 0, False
    ops: list[Operation] = []
    bad = 0
    for item in ops_raw:
        op = _operation(item)
        if op is None:
            bad += 1
        else:
            ops.append(op)
    return ops, bad, True


def _operation(item: Any) -> Operation | None:
    if not isinstance(item, dict):
        return None
    d = {str(k).lower(): v for k, v in item.items()}
    kind = next((d[k] for k in _KIND_KEYS if k in d), "ADD")  # a bare {section, content} adds
    if not isinstance(kind, str) or kind.strip().upper() not in OPS:
        return None
    text = next((d[k] for k in _TEXT_KEYS if isinstance(d.get(k), str)), "")
    ids: list[str] = []
    for k in _ID_KEYS:
        v = d.get(k)
        if isinstance(v, list):
            ids += [normalize_id(x) for x in v if isinstance(x, str | int)]
        elif isinstance(v, str | int) and not isinstance(v, bool):
            ids.append(normalize_id(v))
    section = d.get("section")
    return Operation(
        kind.strip().upper(),
        section if isinstance(section, str) else "",
        normalize_text(text),
        [i for i in dict.fromkeys(ids) if i],
    )


ADD_RULES = """\
Propose lessons to ADD to the playbook: only new insights that the playbook does not already \
state (no redundancy), each concise, specific and actionable, and general enough to help on \
similar tasks. Whoever reads the playbook later will NOT see this task's feedback or \
reflection: write each lesson so that it stands on its own. Propose nothing if the playbook \
already covers the lesson."""

OP_FORMATS = {
    "ADD": '{"type": "ADD", "section": "<section name>", "content": "<the lesson>"}',
    "UPDATE": '{"type": "UPDATE", "bullet_id": "<id>", "content": "<improved lesson>"}',
    "REMOVE": '{"type": "REMOVE", "bullet_id": "<id of a wrong or useless bullet>"}',
    "MERGE": '{"type": "MERGE", "bullet_ids": ["<id>", "<id>"], "content": "<merged lesson>"}',
}


class Curator:
    """Builds curation prompts, parses operations, and applies the allowed ones."""

    def __init__(
        self,
        ops: Iterable[str] = ("ADD",),
        merge_duplicates: bool = False,
        similarity: str = "difflib",
        threshold: float = 0.85,
        playbook_token_budget: int | None = None,
        count_tokens: Callable[[str], int] = approx_tokens,
        max_task_chars: int = 3000,
    ) -> None:
        self.ops = tuple(o.upper() for o in ops)
        bad = [o for o in self.ops if o not in OPS]
        if bad or "ADD" not in self.ops:
            raise ValueError(f"curator ops must include ADD and be among {OPS}, got {self.ops}")
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"similarity threshold must be in (0, 1], got {threshold}")
        self.merge_duplicates = merge_duplicates
        self.threshold = threshold
        self._similarity_method = similarity
        self._similarity = None  # built on first use (the embedding model is heavy)
        self.playbook_token_budget = playbook_token_budget
        self.count_tokens = count_tokens
        self.max_task_chars = max_task_chars

    @property
    def similarity(self):
        if self._similarity is None:
            self._similarity = make_similarity(self._similarity_method)
        return self._similarity

    # -- prompt -----------------------------------------------------------------------------------
    def prompt(self, reflection: Reflection, task: str, playbook: Playbook) -> Conversation:
        sections = ", ".join(f'"{name}"' for name, _ in playbook.sections)
        counts = ", ".join(
            f"{name}: {len(playbook.in_section(name))}" for name, _ in playbook.sections
        )
        rules = ADD_RULES
        if len(self.ops) > 1:
            rules += (
                " You may also fix the playbook: "
                + ", ".join(o for o in self.ops if o != "ADD")
                + " existing bullets when they are wrong, vague or duplicated."
            )
        formats = ",\n  ".join(OP_FORMATS[o] for o in self.ops)
        body = (
            f"You maintain a playbook of lessons for solving tasks like this one.\n\n{rules}\n\n"
            f"TASK:\n{clip(task.strip(), self.max_task_chars)}\n\n"
            f"REFLECTION ON A FAILED ATTEMPT:\n{reflection.as_text() or '(none)'}\n\n"
            f"PLAYBOOK ({len(playbook)} bullets; {counts}):\n"
            f"{playbook.render(self.playbook_token_budget, self.count_tokens) or '(empty)'}\n\n"
            f"Sections: {sections}.\n"
            "Answer with one JSON object and nothing else:\n"
            '{"reasoning": "<why these operations>",\n'
            f' "operations": [\n  {formats}\n ]}}'
        )
        return [{"role": "user", "content": body}]

    # -- operations -------------------------------------------------------------------------------
    @staticmethod
    def parse(text: Any) -> tuple[list[Operation], int, bool]:
        return parse_operations(text)

    def apply(
        self, playbook: Playbook, ops: list[Operation], step: int, stats: CurationStats
    ) -> None:
        """Apply operations in order; disallowed or ill-formed ones are counted and skipped."""
        for op in ops:
            if op.kind not in self.ops:
                stats.dropped_ops += 1
            elif op.kind == "ADD":
                self._add(playbook, op, step, stats)
            elif op.kind == "UPDATE":
                self._update(playbook, op, stats)
            elif op.kind == "REMOVE":
                if len(op.bullet_ids) != 1 or op.bullet_ids[0] not in playbook:
                    stats.dropped_ops += 1
                    continue
                playbook.remove(op.bullet_ids)
                stats.removed.append((op.bullet_ids[0], "curator remove"))
            else:
                ids = [i for i in op.bullet_ids if i in playbook]
                if len(ids) < 2:
                    stats.dropped_ops += 1
                    continue
                keep = merge_bullets(playbook, ids, op.content or None)
                stats.removed += [(i, f"merged into {keep.id}") for i in ids if i != keep.id]
                if op.content:
                    stats.updated.append((keep.id, keep.text))

    def _add(self, playbook: Playbook, op: Operation, step: int, stats: CurationStats) -> None:
        if not op.content:
            stats.dropped_ops += 1
            return
        if self.merge_duplicates and self.near_duplicate(playbook, op.content) is not None:
            stats.duplicates += 1
            return
        bullet = playbook.add(op.section, op.content, step)
        if bullet is not None:
            stats.added.append(bullet)

    def _update(self, playbook: Playbook, op: Operation, stats: CurationStats) -> None:
        if len(op.bullet_ids) != 1 or op.bullet_ids[0] not in playbook or not op.content:
            stats.dropped_ops += 1
            return
        bullet = playbook.bullets[op.bullet_ids[0]]
        bullet.text = op.content
        stats.updated.append((bullet.id, bullet.text))
        if self.merge_duplicates:
            twin = self.near_duplicate(playbook, bullet.text, exclude=bullet.id)
            if twin is not None:
                merge_bullets(playbook, [twin, bullet.id], None)  # the older text stays
                stats.removed.append((bullet.id, f"merged into {twin}"))

    def near_duplicate(self, playbook: Playbook, text: str, exclude: str = "") -> str | None:
        """Id of the most similar bullet at or above the threshold, if any."""
        others = [b for b in playbook.bullets.values() if b.id != exclude]
        if not others:
            return None
        row = self.similarity.matrix([text], [b.text for b in others], floor=self.threshold)[0]
        best = max(range(len(row)), key=row.__getitem__)
        return others[best].id if row[best] >= self.threshold else None


def merge_bullets(playbook: Playbook, ids: list[str], text: str | None) -> Bullet:
    """Fold bullets into the first one: counters summed, last use the latest, text replaced
    when given; the others leave the playbook. Returns the kept bullet."""
    keep, rest = playbook.bullets[ids[0]], [playbook.bullets[i] for i in ids[1:]]
    for b in rest:
        keep.helpful += b.helpful
        keep.harmful += b.harmful
        keep.neutral += b.neutral
        keep.created_step = min(keep.created_step, b.created_step)
        uses = [u for u in (keep.last_used, b.last_used) if u is not None]
        keep.last_used = max(uses) if uses else None
    if text:
        keep.text = normalize_text(text)
    playbook.remove(b.id for b in rest)
    return keep
