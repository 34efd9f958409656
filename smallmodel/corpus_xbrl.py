"""Training conversations for the knowledge-tagging environment (``xbrl``).

What the learners need from a small model here differs from Wordle: the student should tag
mostly at random (the cue -> label rules are what a learner must acquire from feedback), while
the teacher must *use* its privileged context: copy the gold labels the feedback reveals, or
find the playbook line whose cue appears in the sentence and answer with its label.

So teacher examples never teach the rules themselves: the labels in the privileged context
(the revealed gold labels, the rule lines of the playbook) are replaced by random labels, the
same replacement everywhere in that context, and the target follows the context. The model
learns to read the context, and nothing about which cue means which label; the student's weak
play (scripted skill ``student_skill``) is the only source of rule knowledge before learning.

Kinds: ``student`` (weak tagging), ``teacher`` (SDPO feedback, RESD sections, or a playbook of
rules alone), ``reflect`` / ``curate`` (JSON whose lesson is a rule: "The cue 'X' means Y.").
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from envs.xbrl.answers import render_answer
from envs.xbrl.labels import label_set
from learners.prompts import resd_teacher_task, sdpo_teacher_task, with_first_message
from learners.trajectory import Episode
from reflection import Curator, Playbook, Reflector, parse_reflection
from smallmodel.examples import Example, assistant_indices, full_conversation

SECTION = "context clues & indicators"
_MISS = re.compile(r"cue '([^']+)' means (\w+)")


def rule_lesson(cue: str, label: str) -> str:
    return f"The cue '{cue}' means {label}."


def missed_rules(notes: list[str]) -> list[tuple[str, str]]:
    """(cue, label) of each miss named in the environment's hindsight notes."""
    return [m.groups() for m in (_MISS.search(n) for n in notes) if m]


def relabel(text: str, mapping: dict[str, str]) -> str:
    """Replace whole label names by others, all at once (no chains)."""
    if not mapping:
        return text
    pattern = re.compile(r"(?<![A-Za-z])(" + "|".join(map(re.escape, mapping)) + r")(?![A-Za-z])")
    return pattern.sub(lambda m: mapping[m.group(1)], text)


def random_mapping(labels: list[str], names: tuple[str, ...], rng: np.random.Generator) -> dict:
    """Each label to a random label (possibly itself): the counterfactual the teacher copies."""
    return {a: names[int(rng.integers(len(names)))] for a in dict.fromkeys(labels)}


def rule_playbook(
    env: Any, rng: np.random.Generator, cues: list[tuple[str, str]], extra: int = 4
) -> Playbook:
    """A playbook of rule lessons: the given (cue, label) rules among ``extra`` random ones."""
    taken = {c.lower() for c, _ in cues}
    rules = [r for r in label_set(len(env.label_set.names), env.key).rules if r.cue not in taken]
    items = [(r.cue, r.label) for r in (rules[int(i)] for i in rng.permutation(len(rules))[:extra])]
    items += cues
    pb = Playbook()
    pb.next_id = int(rng.integers(1, 200))
    for k in rng.permutation(len(items)):
        cue, label = items[int(k)]
        b = pb.add(SECTION, rule_lesson(cue, label), 0)
        b.helpful, b.harmful = int(rng.integers(4)), int(rng.integers(2))
    return pb


def teacher_example(ep: Episode, env: Any, rng: np.random.Generator) -> Example:
    """A privileged context for the episode's task, its labels replaced at random, and the
    answer that context implies."""
    names = env.label_set.names
    mapping = random_mapping(list(env.gold), names, rng)
    gold = [mapping[g] for g in env.gold]
    kind = rng.random()
    if kind < 0.35:  # SDPO: the lost attempt's feedback reveals every gold label
        privileged = sdpo_teacher_task(ep.task, feedback=relabel(ep.feedback(), mapping))
    elif kind < 0.7:  # RESD: a playbook that states the rules of this sentence's cues
        pb = rule_playbook(env, rng, list(zip(env.cues, gold, strict=True)))
        privileged = resd_teacher_task(ep.task, playbook=pb.render())
    else:  # RESD: playbook, previous trial, feedback and a reflection naming a rule
        notes = [relabel(n, mapping) for n in ep.hindsight]
        reflection = parse_reflection(reflection_answer(notes, Playbook(), rng)).as_text()
        pb = rule_playbook(env, rng, [])
        privileged = resd_teacher_task(
            ep.task,
            playbook=pb.render() if rng.random() < 0.5 else None,
            previous_trial=ep.answer(),
            feedback=relabel(ep.feedback(), mapping),
            reflection=reflection,
        )
    conv = with_first_message(ep.turns[0].messages, privileged)
    conv.append({"role": "assistant", "content": render_answer(gold)})
    return Example(conv, [len(conv) - 1], "teacher", "xbrl")


def reflection_answer(notes: list[str], playbook: Playbook, rng: np.random.Generator) -> str:
    misses = missed_rules(notes) or [("the cue", "its label")]
    cue, label = misses[int(rng.integers(len(misses)))]
    lesson = rule_lesson(cue, label)
    tags = [{"id": b.id, "tag": "neutral"} for b in playbook.bullets.values() if rng.random() < 0.5]
    return json.dumps(
        {
            "reasoning": f"Some labels were wrong. {lesson}",
            "error_identification": "A cue was tagged with the wrong label.",
            "root_cause": "The rule for this cue was not known.",
            "correct_approach": f"Read the cue in front of each number. {lesson}",
            "key_insight": lesson,
            "bullet_tags": tags,
        }
    )


def curation_answer(notes: list[str], playbook: Playbook) -> str:
    have = {b.text for b in playbook.bullets.values()}
    fresh = [rule_lesson(c, lab) for c, lab in missed_rules(notes)]
    fresh = [t for t in fresh if t not in have]
    if not fresh:
        return json.dumps({"reasoning": "The playbook already has this lesson.", "operations": []})
    return json.dumps(
        {
            "reasoning": "A new rule from this failure.",
            "operations": [{"type": "ADD", "section": SECTION, "content": fresh[0]}],
        }
    )


def reflection_examples(ep: Episode, env: Any, rng: np.random.Generator) -> list[Example]:
    """The reflection prompt and its JSON, then the curation prompt for it (true rules: these
    answers are about the episode, and the rules reach the student only through learning)."""
    notes = list(ep.hindsight)
    pb = rule_playbook(env, rng, [], extra=int(rng.integers(5)))
    conv = Reflector().reflection_prompt(ep.task, ep.answer(), ep.feedback(), pb)
    answer = reflection_answer(notes, pb, rng)
    out = [Example([*conv, {"role": "assistant", "content": answer}], [1], "reflect", "xbrl")]
    pb2 = rule_playbook(env, rng, [], extra=int(rng.integers(5)))
    cur = Curator().prompt(parse_reflection(answer), ep.task, pb2)
    cur = [*cur, {"role": "assistant", "content": curation_answer(notes, pb2)}]
    out.append(Example(cur, [1], "curate", "xbrl"))
    return out


def tagging_example(ep: Episode, env: Any, rng: np.random.Generator) -> Example:
    pb = rule_playbook(env, rng, [], extra=int(rng.integers(1, 5)))
    conv = Reflector().tagging_prompt(ep.task, ep.answer(), ep.feedback(), pb)
    tags = [{"id": b.id, "tag": "neutral"} for b in pb.bullets.values() if rng.random() < 0.7]
    conv = [*conv, {"role": "assistant", "content": json.dumps({"bullet_tags": tags})}]
    return Example(conv, [1], "tag", "xbrl")


def student_example(ep: Episode) -> Example:
    conv = full_conversation(ep)
    return Example(conv, assistant_indices(conv), "student", "xbrl")


def label_evidence(env: Any, seed: int, rng: np.random.Generator) -> tuple[str, str]:
    """The part of a tagging teacher's context that decides its answer, and that answer: the
    feedback lines of a random answer (each reveals a gold label, or all of them after a
    malformed last answer), or the playbook rules of the sentence's cues beside the sentence.
    Labels replaced at random, as in ``teacher_example``: the answer follows the evidence.

    These are the needles of ``smallmodel.synthetic.needle_sequence`` for this game: dense
    copy targets in its own wording, which the long real teacher examples give only a few of.
    """
    env.reset(seed=seed)
    game = env.unwrapped
    names = game.label_set.names
    mapping = random_mapping(list(game.gold), names, rng)
    gold = [mapping[g] for g in game.gold]
    if rng.random() < 0.65:
        said = [names[int(i)] for i in rng.integers(len(names), size=len(gold))]
        if len(said) > 1 and rng.random() < 0.3:
            said = said[:-1]  # malformed: a number left untagged, so the gold labels follow
        feedback = env.step(render_answer(said))[0]
        evidence = relabel(feedback, mapping)
    else:
        pb = rule_playbook(env, rng, list(zip(game.cues, gold, strict=True)))
        evidence = f"Sentence: {game.task.sentence}\n{pb.render()}"
    return evidence, render_answer(gold)
