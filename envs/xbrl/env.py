"""XbrlTagging: tag each marked number of a filing sentence with its XBRL label.

A procedural, offline analogue of FiNER-139 (numeric entity tagging in SEC filings with XBRL
labels). The observation is one short sentence with one to ``numbers`` marked numbers,
``[#1 $4.2 million]``, and the label list; untagged distractor numbers (years, counts) sit
beside them. The words in front of a number (its *cue*, e.g. "diluted EPS") decide its label
by a fixed table (``envs.xbrl.labels``): what a learner must acquire is that table, the
knowledge of which cue means which label, including the key's house conventions for
unqualified cues and the rare labels of a Zipf-distributed long tail.

Action: text with one ``[number: Label]`` per marked number, e.g. ``[1: Revenues]
[2: EarningsPerShareDiluted]`` (parsed leniently, see ``envs.xbrl.answers``).

Feedback: per marked number, right or wrong with the gold label revealed; a malformed answer
gets its reason (no entries, a number missing or not marked, an unknown label, two labels for
one number), and when it was the last answer allowed, the gold labels in the answer format.
The last answer ends the episode (``terminated``), so by then every gold label is revealed.
``hindsight()`` names the rule behind each miss: the cue and the label it means.

Rewards: 1 when every label is right (success), else 0. ``progress`` is the share of marked
numbers tagged right (FiNER's per-entity accuracy); a malformed answer scores 0.

Knobs: ``XbrlTagging.KNOBS`` (name, default, allowed values, meaning).

Evaluation split: templates, not sentences. A fixed share (``heldout_share``, by a hash of the
template id) of the sentence templates is never used in training, so evaluation sentences
have frames and verbs the learner never saw and only the cue -> label rules carry over. The
rules themselves are the same in both splits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from envs.base import Interval, Knob, Outcome, TextEnv, echo
from envs.xbrl.answers import ParsedAnswer, parse_answer, render_answer
from envs.xbrl.labels import MAX_LABELS, MIN_LABELS, LabelSet, label_set
from envs.xbrl.sentences import COMPANIES, TEMPLATES, distractors, period, sentence, value
from envs.xbrl.sentences import mention as render_mention

MAX_NUMBERS = 4
MAX_DISTRACTORS = 3


@dataclass(frozen=True)
class Mention:
    """One marked number: its gold label, the cue written in front of it, its text."""

    label: str
    cue: str
    value: str


@dataclass(frozen=True)
class XbrlTask:
    """A sentence to tag; ``template`` is the id of its frame (the split key)."""

    template: str
    sentence: str
    mentions: tuple[Mention, ...]


class XbrlTagging(TextEnv):
    """Tag each marked number of a financial sentence with its XBRL label."""

    KNOBS = (
        Knob(
            "labels",
            24,
            range(MIN_LABELS, MAX_LABELS + 1),
            "the label set: the first this many labels of the catalogue",
        ),
        Knob(
            "numbers",
            3,
            range(1, MAX_NUMBERS + 1),
            "marked numbers per sentence, drawn uniformly from 1..numbers",
        ),
        Knob(
            "confusers",
            0.3,
            Interval(0.0, 1.0),
            "the chance that a label with a confusable partner brings the partner along",
        ),
        Knob("distractors", 1, range(0, MAX_DISTRACTORS + 1), "untagged numbers per sentence"),
        Knob("zipf", 1.0, Interval(0.0, 3.0), "exponent of the label frequencies (0: uniform)"),
        Knob("show_labels", True, (False, True), "whether the observation lists the labels"),
        Knob(
            "heldout_share",
            0.2,
            Interval(0.0, 0.8),
            "the share of sentence templates held out for evaluation",
        ),
        Knob(
            "max_turns",
            1,
            range(1, 11),
            "answers per task (each wrong one gets the feedback, so later answers test whether "
            "feedback in context is used)",
        ),
        Knob("key", 0, range(0, 2**31), "the label set's conventions (house cues) and ranks"),
    )

    def __init__(self, render_mode: str | None = None, **knobs: Any) -> None:
        super().__init__(render_mode, **knobs)
        self.eval_share = self.heldout_share
        self.label_set: LabelSet = label_set(self.labels, self.key)
        self._weights = self.label_set.weights(self.zipf)

    # -- what a model builder reads -------------------------------------------------------------
    @property
    def task(self) -> XbrlTask:
        return self._task

    @property
    def gold(self) -> tuple[str, ...]:
        """The gold label of each marked number, in number order."""
        return tuple(m.label for m in self._task.mentions)

    @property
    def cues(self) -> tuple[str, ...]:
        """The cue phrasing in front of each marked number (as in the rule table)."""
        return tuple(m.cue for m in self._task.mentions)

    def split_key(self, task: XbrlTask) -> str:
        return task.template  # the frame, not the sentence

    # -- the task -------------------------------------------------------------------------------
    def _new_task(self) -> XbrlTask:
        rng = self.np_random
        template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]
        company = COMPANIES[int(rng.integers(len(COMPANIES)))]
        when = period(rng)
        mentions = []
        for name in self._draw_labels(int(rng.integers(1, self.numbers + 1))):
            cues = self.label_set.cues_of(name)
            cue = cues[int(rng.integers(len(cues)))]
            mentions.append(Mention(name, cue, value(self.label_set.unit_of(name), rng)))
        shown = [
            render_mention(m.cue, template.verb, k, m.value) for k, m in enumerate(mentions, 1)
        ]
        extra = distractors(self.distractors, rng)
        text = sentence(template, company, when, shown, extra)
        return XbrlTask(template.id, text, tuple(mentions))

    def _draw_labels(self, count: int) -> list[str]:
        """Zipf-weighted labels without repeats; a drawn label brings its confusable partner
        along with probability ``confusers`` (in either order) while there is room."""
        rng, names = self.np_random, self.label_set.names
        chosen: list[str] = []
        while len(chosen) < count:
            weights = self._weights.copy()
            for name in chosen:
                weights[names.index(name)] = 0.0
            name = names[int(rng.choice(len(names), p=weights / weights.sum()))]
            partner = self.label_set.partners.get(name)
            room = len(chosen) + 2 <= count
            if partner and partner not in chosen and room and rng.random() < self.confusers:
                chosen.extend([name, partner] if rng.random() < 0.5 else [partner, name])
            else:
                chosen.append(name)
        return chosen

    def _intro(self) -> str:
        count = len(self._task.mentions)
        names = self.label_set.names
        if self.show_labels:
            shown = f"Labels ({len(names)}): {', '.join(names)}."
        else:
            shown = f"Labels: {len(names)} XBRL element names (the list is not shown)."
        marked = "#1" if count == 1 else f"#1 to #{count}"
        turns = (
            f" You have {self.max_turns} answers; each gets feedback." if self.max_turns > 1 else ""
        )
        return (
            "Tag each marked number in this sentence from a company filing with its XBRL label.\n"
            f"Sentence: {self._task.sentence}\n"
            f"{shown}\n"
            f"Answer with one [number: Label] for each marked number ({marked}), for example: "
            f"{render_answer(names[:count])}. Unmarked numbers are not tagged.{turns}"
        )

    # -- the rules ------------------------------------------------------------------------------
    def parse(self, action: str) -> ParsedAnswer:
        """The labels an answer gives, or the reason it is malformed."""
        return parse_answer(action, self.label_set.names, len(self._task.mentions))

    def _play(self, action: str) -> Outcome:
        last = self._turn >= self.max_turns  # the answers are the rules: the last one ends it
        parsed = self.parse(action)
        if parsed.labels is None:
            feedback = f"Invalid answer {echo(action)}: {parsed.reason}."
            if last:
                feedback += f"\nThe gold labels: {render_answer(self.gold)}."
            return Outcome(feedback, False, done=last)
        lines, right = [], 0
        for k, (m, said) in enumerate(zip(self._task.mentions, parsed.labels, strict=True), 1):
            if said == m.label:
                right += 1
                lines.append(f"#{k} {m.value}: right ({m.label}).")
            else:
                gold = f"the gold label is {m.label}"
                lines.append(f"#{k} {m.value}: wrong (you said {said}); {gold}.")
        count = len(lines)
        if right == count:
            lines.append(f"All {count} right. Task solved.")
        else:
            lines.append(f"{right} of {count} right.")
        solved = right == count
        return Outcome("\n".join(lines), True, solved, right / count, solved or last)

    def hindsight(self) -> list[str]:
        """The rule behind each miss (the cue and the label it means, house conventions
        named as such), after a note on a malformed last answer."""
        if self._task is None:
            return []
        notes: list[str] = []
        answers = [self.parse(action) for action, _ in self.history]
        if answers and answers[-1].labels is None:
            notes.append(f"The last answer was malformed: {answers[-1].reason}.")
        valid = [a.labels for a in answers if a.labels is not None]
        for k, m in enumerate(self._task.mentions, 1):
            wrong = list(dict.fromkeys(a[k - 1] for a in valid if a[k - 1] != m.label))
            if valid and not wrong:
                continue
            said = f"; the answer said {', then '.join(wrong)}" if wrong else ""
            notes.append(f"#{k} {m.value}: {self._rule_text(m)}{said}.")
        return notes

    def _rule_text(self, m: Mention) -> str:
        rule = self.label_set.rule_of(m.cue)
        if not rule.house:
            return f"the cue '{m.cue}' means {m.label}"
        partner = self.label_set.partners[m.label]
        kind = self.label_set.pair_kinds[m.label]
        return (
            f"the unqualified cue '{m.cue}' means {m.label} by this label set's convention, "
            f"not {partner} ({kind} pair)"
        )
