"""The reflector: turns a failed attempt into a diagnosis, and tags playbook bullets.

For a failure the model sees the task, its own answer (thinking removed), the environment's
feedback and the current playbook, and writes JSON with a diagnosis and a helpful / harmful /
neutral tag per bullet it judged. A success gets a lighter prompt that only tags bullets.
Parsing is lenient (``lenient_json``); what cannot be read is counted, never raised.
``OracleReflector`` builds the same record from the environment's hindsight notes instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chat import Conversation, strip_thinking
from reflection.lenient_json import extract_json
from reflection.playbook import Playbook, approx_tokens

TAGS = ("helpful", "harmful", "neutral")
TEXT_FIELDS = ("reasoning", "error_identification", "root_cause", "correct_approach", "key_insight")
_FIELD_ALIASES = {
    "error": "error_identification",
    "error_identified": "error_identification",
    "errors": "error_identification",
    "cause": "root_cause",
    "root_cause_analysis": "root_cause",
    "approach": "correct_approach",
    "insight": "key_insight",
    "lesson": "key_insight",
    "tags": "bullet_tags",
}
MAX_FIELD_CHARS = 2000  # one field of a reflection; longer text is cut


@dataclass
class Reflection:
    """A parsed diagnosis. ``status``: ``ok`` (every text field present), ``partial`` (some
    fields or only tags), ``dropped`` (nothing usable), ``oracle`` (from hindsight notes)."""

    reasoning: str = ""
    error_identification: str = ""
    root_cause: str = ""
    correct_approach: str = ""
    key_insight: str = ""
    bullet_tags: dict[str, str] = field(default_factory=dict)
    status: str = "dropped"
    invalid_tags: int = 0  # tag entries that were malformed or had an unknown tag value
    task_id: str = ""
    raw: str | None = None  # what the model wrote (set by the pipeline; None: no model text)

    @property
    def usable(self) -> bool:
        return self.status != "dropped"

    def as_text(self) -> str:
        """The diagnosis for the teacher prompt (reasoning left out: it is the model's
        scratch work); empty when nothing was parsed."""
        parts = [
            ("Error", self.error_identification),
            ("Root cause", self.root_cause),
            ("Correct approach", self.correct_approach),
            ("Key insight", self.key_insight),
        ]
        return "\n".join(f"{name}: {text}" for name, text in parts if text)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in (*TEXT_FIELDS, "bullet_tags", "status", "task_id")}


def clip(text: str, max_chars: int) -> str:
    """Keep the head and the tail of an over-long text (errors are often at the end)."""
    if len(text) <= max_chars:
        return text
    half = max_chars // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


def normalize_id(raw: Any) -> str:
    return str(raw).strip().strip("[]").strip().lower()


def parse_tags(raw: Any) -> tuple[dict[str, str], int]:
    """Tags from ``{id: tag}``, ``[{"id": .., "tag": ..}]`` or ``[[id, tag]]``; returns the
    valid ones (last one wins for a repeated id) and the count of invalid entries."""
    pairs: list[tuple[Any, Any]] = []
    invalid = 0
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list):
        for item in raw:
            if isinstance(item, dict):
                bid = item.get("id", item.get("bullet_id"))
                tag = item.get("tag", item.get("label"))
                if bid is None or tag is None:
                    invalid += 1
                    continue
                pairs.append((bid, tag))
            elif isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                invalid += 1
    elif raw is not None:
        invalid += 1
    tags: dict[str, str] = {}
    for bid, tag in pairs:
        t = str(tag).strip().lower() if isinstance(tag, str) else ""
        if t not in TAGS or not normalize_id(bid):
            invalid += 1
            continue
        tags[normalize_id(bid)] = t
    return tags, invalid


def _as_text(value: Any) -> str:
    """A field's value as one line: lists and dicts joined (each part read once, so the cost
    stays linear in the value), whitespace collapsed, cut at ``MAX_FIELD_CHARS``."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, list):
        text = "; ".join(part for part in map(_as_text, value) if part)
    elif isinstance(value, dict):
        text = "; ".join(f"{k}: {part}" for k, v in value.items() if (part := _as_text(v)))
    else:
        text = " ".join(str(value).split())
    return text[:MAX_FIELD_CHARS]


def parse_reflection(text: Any) -> Reflection:
    """Read a reflection from model output as far as it goes; never raises."""
    got = extract_json(text)
    if not isinstance(got.value, dict):
        return Reflection(status="dropped")
    data = {
        _FIELD_ALIASES.get(str(k).strip().lower(), str(k).strip().lower()): v
        for k, v in got.value.items()
    }
    ref = Reflection()
    for name in TEXT_FIELDS:
        setattr(ref, name, _as_text(data.get(name)))
    ref.bullet_tags, ref.invalid_tags = parse_tags(data.get("bullet_tags"))
    filled = sum(bool(getattr(ref, n)) for n in TEXT_FIELDS)
    if filled == len(TEXT_FIELDS):
        ref.status = "ok"
    elif filled or ref.bullet_tags:
        ref.status = "partial"
    return ref


@dataclass
class TagStats:
    """What applying tags did: per-id changes (for the history) and the unknown ids."""

    applied: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def apply_tags(playbook: Playbook, tags: dict[str, str], step: int, stats: TagStats) -> None:
    """Count each tag on its bullet; helpful/harmful mark the bullet used at ``step``.
    Ids not in the playbook are skipped and listed in ``stats.unknown``."""
    for bid, tag in tags.items():
        b = playbook.get(bid)
        if b is None:
            stats.unknown.append(bid)
            continue
        if tag == "helpful":
            b.helpful += 1
        elif tag == "harmful":
            b.harmful += 1
        else:
            b.neutral += 1
        if tag != "neutral":
            b.last_used = step
        stats.applied.append((bid, tag))


REFLECT_INSTRUCTIONS = """\
You are reviewing an unsuccessful attempt at a task. Use the environment feedback to find \
what went wrong and what a correct attempt would do differently.

Also judge the playbook bullets (lessons from earlier attempts) that bear on this attempt: \
tag a bullet "helpful" if following it helps here, "harmful" if it misleads, "neutral" if it \
is relevant but makes no difference. Skip bullets unrelated to this task.

Answer with one JSON object and nothing else:
{"reasoning": "<your analysis>",
 "error_identification": "<what exactly was wrong>",
 "root_cause": "<why it happened>",
 "correct_approach": "<what to do instead>",
 "key_insight": "<the general lesson, useful for similar tasks>",
 "bullet_tags": [{"id": "<bullet id>", "tag": "helpful|harmful|neutral"}]}"""

TAG_INSTRUCTIONS = """\
This attempt at a task succeeded. Judge the playbook bullets (lessons from earlier attempts) \
that bear on it: "helpful" if the attempt follows it or it would help, "harmful" if it would \
mislead, "neutral" if relevant but irrelevant to the outcome. Skip unrelated bullets.

Answer with one JSON object and nothing else:
{"bullet_tags": [{"id": "<bullet id>", "tag": "helpful|harmful|neutral"}]}"""


class Reflector:
    """Builds reflection and tagging prompts and parses the answers (the model call itself
    belongs to the pipeline, which batches all prompts of a step into one call)."""

    def __init__(
        self,
        playbook_token_budget: int | None = None,
        count_tokens: Callable[[str], int] = approx_tokens,
        max_answer_chars: int = 6000,
        max_feedback_chars: int = 4000,
    ) -> None:
        self.playbook_token_budget = playbook_token_budget
        self.count_tokens = count_tokens
        self.max_answer_chars = max_answer_chars
        self.max_feedback_chars = max_feedback_chars

    def _playbook(self, playbook: Playbook) -> str:
        text = playbook.render(self.playbook_token_budget, self.count_tokens)
        return text or "(empty)"

    def _attempt(self, task: str, answer: str, feedback: str) -> str:
        return (
            f"TASK:\n{task.strip()}\n\n"
            f"ANSWER (thinking removed):\n{clip(strip_thinking(answer), self.max_answer_chars)}\n\n"
            f"ENVIRONMENT FEEDBACK:\n{clip(feedback.strip(), self.max_feedback_chars)}"
        )

    def reflection_prompt(
        self, task: str, answer: str, feedback: str, playbook: Playbook
    ) -> Conversation:
        body = (
            f"{REFLECT_INSTRUCTIONS}\n\n{self._attempt(task, answer, feedback)}\n\n"
            f"PLAYBOOK:\n{self._playbook(playbook)}"
        )
        return [{"role": "user", "content": body}]

    def tagging_prompt(
        self, task: str, answer: str, feedback: str, playbook: Playbook
    ) -> Conversation:
        body = (
            f"{TAG_INSTRUCTIONS}\n\n{self._attempt(task, answer, feedback)}\n\n"
            f"PLAYBOOK:\n{self._playbook(playbook)}"
        )
        return [{"role": "user", "content": body}]

    @staticmethod
    def parse(text: Any) -> Reflection:
        return parse_reflection(text)

    @staticmethod
    def parse_tags_only(text: Any) -> tuple[dict[str, str], int, bool]:
        """Tags from a tagging answer: (tags, invalid entries, whether any JSON was read)."""
        got = extract_json(text)
        if not isinstance(got.value, dict):
            return {}, 0, False
        data = {_FIELD_ALIASES.get(str(k).lower(), str(k).lower()): v for k, v in got.value.items()}
        tags, invalid = parse_tags(data.get("bullet_tags"))
        return tags, invalid, True


class OracleReflector:
    """A reflection with a perfect diagnosis: the environment's own hindsight notes on the
    finished episode (``env.hindsight()``), no model call. No bullet tags (nobody judged the
    playbook). An attempt without notes gets a ``dropped`` reflection."""

    @staticmethod
    def reflect(notes: Sequence[str] | Iterable[str], task_id: str = "") -> Reflection:
        clean = [" ".join(str(n).split()) for n in notes if str(n).strip()]
        if not clean:
            return Reflection(status="dropped", task_id=task_id)
        listed = "; ".join(clean)
        return Reflection(
            reasoning="Diagnosis from the environment's hindsight notes.",
            error_identification=listed,
            status="oracle",
            task_id=task_id,
        )
