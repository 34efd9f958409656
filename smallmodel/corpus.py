"""Training conversations for the suite's own small model, in the suite's exact formats.

Every example is built with the functions the learners use at run time, so the model meets
the same text in training and in use:

* episodes come from ``learners.rollout.play_groups`` driven by scripted players
  (``envs.players``), so the student's conversation layout is the rollout's own;
* teacher contexts come from ``learners.prompts.sdpo_teacher_task`` / ``resd_teacher_task``
  and ``with_first_message`` on those episodes (what ``SelfDistillation`` scores);
* reflection, tagging and curation prompts come from ``reflection.Reflector`` and
  ``reflection.Curator`` with a real ``Playbook``; their answers are JSON written from the
  environment's hindsight notes (``env.hindsight()``).

What the model should learn from each kind (``Example.kind``):

* ``student``: weak play (scripted skill ``student_skill``), every assistant turn trained, so
  the default student guesses validly but rarely wins;
* ``teacher``: a teacher context (which reveals the answer through the feedback of a lost
  game, the reflection, or a successful trial) followed by the answer itself, so privileged
  context helps;
* ``reflect`` / ``tag`` / ``curate``: well-formed JSON, so RESD's reflection runs on the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

import envs
from envs.players import scripted_action
from learners.models.types import Completion, SamplingParams
from learners.prompts import resd_teacher_task, sdpo_teacher_task, with_first_message
from learners.rollout import play_groups
from learners.trajectory import Conversation, Episode
from reflection import Curator, OracleReflector, Playbook, Reflector, parse_reflection
from smallmodel import corpus_xbrl as xbrl
from smallmodel.examples import Example, assistant_indices, full_conversation

KINDS = ("student", "teacher", "reflect", "tag", "curate")


@dataclass(frozen=True)
class GameSpec:
    """An environment of the corpus: registry name, preset, and how the answer is written."""

    name: str
    preset: str = "default"

    def make(self) -> Any:
        return (
            envs.make(self.name, preset=self.preset)
            if self.preset != "default"
            else envs.make(self.name)
        )


class ScriptedPolicy:
    """Plays like a ``Policy`` inside ``play_groups``, but each move comes from a scripted
    player of the given skill reading its own environment's public state."""

    def __init__(self, games: list[Any], skills: list[float], rng: np.random.Generator) -> None:
        self.games, self.skills, self.rng = games, skills, rng
        self._by_conv: dict[int, int] = {}

    def generate(self, conversations: list[Conversation], params: Any) -> list[Completion]:
        if not self._by_conv:  # first call: conversations come in env-creation order
            self._by_conv = {id(c): i for i, c in enumerate(conversations)}
        out = []
        for conv in conversations:
            i = self._by_conv[id(conv)]
            text = scripted_action(self.games[i], self.skills[i], self.rng)
            out.append(Completion([], text, [], "stop"))
        return out


def play_scripted(
    game: GameSpec, seeds: list[int], skills: list[float], rng: np.random.Generator
) -> tuple[list[Episode], list[Any]]:
    """One episode per seed through the real rollout loop; returns episodes and their envs."""
    made: list[Any] = []

    def make_env() -> Any:
        env = game.make()
        made.append(env)
        return env

    policy = ScriptedPolicy(made, skills, rng)
    groups, _ = play_groups(policy, make_env, seeds, 1, SamplingParams(), sample_seed=0)
    return [g[0] for g in groups], made


def answer_of(env: Any) -> str:
    """The winning action of a finished game, written as the player must write it."""
    game = env.unwrapped
    return f"[{game._show(game.secret)}]".lower()


# -- lessons and reflections from hindsight notes -----------------------------------------------
LESSONS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "wordle": {
        "ignored": [
            ("common mistakes to avoid", "Never guess a word that uses a letter already marked X."),
            (
                "common mistakes to avoid",
                "Keep every green letter in its spot in all later guesses.",
            ),
            (
                "strategies & insights",
                "Put each yellow letter in a new spot: it is in the word but not where it was.",
            ),
            (
                "problem-solving heuristics",
                "Before guessing, check the word against the marks of every earlier guess.",
            ),
        ],
        "invalid": [
            (
                "common mistakes to avoid",
                "Answer with one real five-letter word in square brackets, nothing else.",
            ),
            ("others", "Do not repeat a word that was already guessed."),
        ],
        "unlucky": [
            (
                "strategies & insights",
                "Early guesses should test common letters like e, a, r, o, t, l, s.",
            ),
            (
                "problem-solving heuristics",
                "When few words fit the marks, guess one of them rather than a new probe.",
            ),
        ],
    },
    "mastermind": {
        "ignored": [
            (
                "common mistakes to avoid",
                "Only guess a code that would give every earlier guess the counts it got.",
            ),
            (
                "problem-solving heuristics",
                "If a guess got exact=0, none of its colours is in its place.",
            ),
            (
                "strategies & insights",
                "A colour from a guess that matched nothing is not in the code at all.",
            ),
        ],
        "invalid": [
            (
                "common mistakes to avoid",
                "Answer with exactly four digits in square brackets, each a valid colour.",
            ),
            ("others", "Do not repeat a code that was already guessed."),
        ],
        "unlucky": [
            (
                "strategies & insights",
                "Start with guesses that test two colours at a time, like [1 1 2 2].",
            ),
            (
                "problem-solving heuristics",
                "Use the total of exact and colour-only to count each colour in the code.",
            ),
        ],
    },
}

ROOT_CAUSES = {
    "ignored": "The guesses were chosen without checking them against the earlier feedback.",
    "invalid": "Some answers did not follow the answer format or the rules of the game.",
    "unlucky": "The guesses fit the feedback but the search ran out of guesses.",
}
APPROACHES = {
    "ignored": "Only guess answers that agree with all the feedback so far.",
    "invalid": "Write one valid answer in square brackets each turn.",
    "unlucky": "Choose guesses that rule out the most options while fitting the feedback.",
}


def failure_kind(notes: list[str]) -> str:
    """What went wrong, from the hindsight notes: ignored feedback, invalid answers, or neither."""
    text = " ".join(notes)
    if "ignored feedback" in text or "could not be the code" in text:
        return "ignored"
    if "invalid answer" in text:
        return "invalid"
    return "unlucky"


def reveal(notes: list[str]) -> str:
    """The hindsight note that names the answer ("The word was [x]."), or ""."""
    return next((n for n in notes if n.startswith(("The word was", "The code was"))), "")


ERRORS = {
    "ignored": "Some guesses did not fit the marks of earlier guesses.",
    "invalid": "Some answers were not valid guesses.",
    "unlucky": "Every guess fit the feedback, but none was the answer.",
}


def reflection_json(
    env_name: str, notes: list[str], playbook: Playbook, rng: np.random.Generator
) -> str:
    """A well-formed reflection answer from the hindsight notes: short templated fields (a
    small model must write them whole) that name the failure kind and the revealed answer."""
    kind = failure_kind(notes)
    answer = reveal(notes)
    section, lesson = LESSONS[env_name][kind][int(rng.integers(len(LESSONS[env_name][kind])))]
    tags = []
    wanted = {text for _, text in LESSONS[env_name][kind]}
    for b in playbook.bullets.values():
        if b.text in wanted:
            tags.append({"id": b.id, "tag": "helpful"})
        elif rng.random() < 0.5:
            tags.append({"id": b.id, "tag": "neutral"})
    data = {
        "reasoning": f"{ERRORS[kind]} {answer}".strip(),
        "error_identification": ERRORS[kind],
        "root_cause": ROOT_CAUSES[kind],
        "correct_approach": f"{APPROACHES[kind]} {answer}".strip(),
        "key_insight": lesson,
        "bullet_tags": tags,
    }
    return json.dumps(data)


def tagging_json(env_name: str, playbook: Playbook, rng: np.random.Generator) -> str:
    helpful = {text for kind in ("ignored", "unlucky") for _, text in LESSONS[env_name][kind]}
    tags = [
        {"id": b.id, "tag": "helpful" if b.text in helpful else "neutral"}
        for b in playbook.bullets.values()
        if rng.random() < 0.7
    ]
    return json.dumps({"bullet_tags": tags})


def curation_json(
    env_name: str, notes: list[str], playbook: Playbook, rng: np.random.Generator
) -> str:
    """ADD one lesson for this failure that the playbook does not hold yet (or nothing)."""
    kind = failure_kind(notes)
    have = {b.text for b in playbook.bullets.values()}
    fresh = [(s, t) for s, t in LESSONS[env_name][kind] if t not in have]
    if not fresh:
        return json.dumps({"reasoning": "The playbook already has this lesson.", "operations": []})
    section, lesson = fresh[int(rng.integers(len(fresh)))]
    return json.dumps(
        {
            "reasoning": "A new lesson from this failure.",
            "operations": [{"type": "ADD", "section": section, "content": lesson}],
        }
    )


def random_playbook(env_name: str, rng: np.random.Generator, most: int = 4) -> Playbook:
    """A playbook of 0..most lessons of this game, with random ids and counters."""
    pb = Playbook()
    pb.next_id = int(rng.integers(1, 200))
    bank = [item for kind in LESSONS[env_name].values() for item in kind]
    for k in rng.permutation(len(bank))[: int(rng.integers(most + 1))]:
        section, text = bank[int(k)]
        b = pb.add(section, text, 0)
        b.helpful, b.harmful = int(rng.integers(4)), int(rng.integers(2))
    return pb


# -- examples -------------------------------------------------------------------------------------
def student_examples(episodes: list[Episode], env_name: str) -> list[Example]:
    out = []
    for ep in episodes:
        conv = full_conversation(ep)
        out.append(Example(conv, assistant_indices(conv), "student", env_name))
    return out


def last_turns(ep: Episode, n: int) -> str:
    """The feedback of the episode's last ``n`` turns, numbered as ``Episode.feedback`` does."""
    start = len(ep.turns) - n
    return "\n".join(
        f"Turn {k}: {t.feedback.strip()}" for k, t in enumerate(ep.turns[start:], start + 1)
    )


def teacher_example(
    ep: Episode,
    env: Any,
    env_name: str,
    solution: Episode | None,
    rng: np.random.Generator,
    short: float = 0.0,
) -> Example:
    """A teacher context built from a failed episode, then the answer at a random turn.

    With probability ``short`` the context is SDPO's message with only the last turn's
    feedback (which holds the reveal): the same format, a much shorter prompt, so the copy of
    the answer is learned from few tokens before the long contexts."""
    notes = list(ep.hindsight)
    sol = solution.answer() if solution is not None else None
    if rng.random() < short:
        task = sdpo_teacher_task(ep.task, feedback=last_turns(ep, 1))
    elif rng.random() < 0.4:
        task = sdpo_teacher_task(ep.task, feedback=ep.feedback(), solution=sol)
    else:
        if rng.random() < 0.5:
            reflection = OracleReflector.reflect(notes).as_text()
        else:
            pb0 = random_playbook(env_name, rng)
            reflection = parse_reflection(reflection_json(env_name, notes, pb0, rng)).as_text()
        playbook = random_playbook(env_name, rng).render() if rng.random() < 0.4 else None
        task = resd_teacher_task(
            ep.task,
            playbook=playbook,
            previous_trial=ep.answer(),
            feedback=ep.feedback(),
            reflection=reflection or None,
            solution=sol,
        )
    # the teacher scores the student's own turns: the context of turn k, then the answer
    k = 0 if rng.random() < 0.6 else int(rng.integers(len(ep.turns)))
    conv = with_first_message(ep.turns[k].messages, task)
    conv.append({"role": "assistant", "content": answer_of(env)})
    return Example(conv, [len(conv) - 1], "teacher", env_name)


def reflection_examples(ep: Episode, env_name: str, rng: np.random.Generator) -> list[Example]:
    """A reflection prompt and its JSON, then the curation prompt for that reflection."""
    notes = list(ep.hindsight)
    pb = random_playbook(env_name, rng)
    reflector, curator = Reflector(), Curator()
    conv = reflector.reflection_prompt(ep.task, ep.answer(), ep.feedback(), pb)
    answer = reflection_json(env_name, notes, pb, rng)
    conv = [*conv, {"role": "assistant", "content": answer}]
    out = [Example(conv, [1], "reflect", env_name)]
    pb2 = random_playbook(env_name, rng)
    cur = curator.prompt(parse_reflection(answer), ep.task, pb2)
    cur = [*cur, {"role": "assistant", "content": curation_json(env_name, notes, pb2, rng)}]
    out.append(Example(cur, [1], "curate", env_name))
    return out


def tagging_example(ep: Episode, env_name: str, rng: np.random.Generator) -> Example:
    pb = random_playbook(env_name, rng)
    conv = Reflector().tagging_prompt(ep.task, ep.answer(), ep.feedback(), pb)
    conv = [*conv, {"role": "assistant", "content": tagging_json(env_name, pb, rng)}]
    return Example(conv, [1], "tag", env_name)


@dataclass(frozen=True)
class CorpusConfig:
    """How many tasks per game and how the scripted players play."""

    games: tuple[str, ...] = ("wordle", "mastermind")
    tasks: int = 2000  # seeds per game
    first_seed: int = 10_000  # evaluation uses seeds below this
    student_skill: float = 0.03
    solution_skill: float = 1.0
    teacher_per_task: int = 1
    short_teacher: float = 0.0  # share of teacher examples with the short SDPO context
    student_share: float = 1.0  # share of tasks whose weak play is a student example
    reflect_share: float = 0.3  # share of failed tasks that also give reflect + curate examples
    seed: int = 0


def xbrl_examples(
    weak: list[Episode], envs_: list[Any], cfg: CorpusConfig, rng: np.random.Generator
) -> list[Example]:
    """The knowledge-tagging environment's examples (see ``smallmodel.corpus_xbrl``)."""
    out = [xbrl.student_example(e) for e in weak if rng.random() < cfg.student_share]
    for ep, env in zip(weak, envs_, strict=True):
        game = env.unwrapped
        if ep.success:
            out.append(xbrl.tagging_example(ep, game, rng))
            continue
        out += [xbrl.teacher_example(ep, game, rng) for _ in range(cfg.teacher_per_task)]
        if rng.random() < cfg.reflect_share:
            out += xbrl.reflection_examples(ep, game, rng)
    return out


def build_corpus(cfg: CorpusConfig) -> list[Example]:
    """All examples, deterministic in ``cfg`` (a numpy generator seeded from ``cfg.seed``)."""
    rng = np.random.default_rng(cfg.seed)
    examples: list[Example] = []
    for name in cfg.games:
        game = GameSpec(name)
        seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.tasks))
        weak, weak_envs = play_scripted(game, seeds, [cfg.student_skill] * len(seeds), rng)
        if name == "xbrl":
            examples += xbrl_examples(weak, weak_envs, cfg, rng)
            continue
        expert, _ = play_scripted(game, seeds, [cfg.solution_skill] * len(seeds), rng)
        examples += student_examples([e for e in weak if rng.random() < cfg.student_share], name)
        for ep, env, sol in zip(weak, weak_envs, expert, strict=True):
            if ep.success:
                examples.append(tagging_example(ep, name, rng))
                continue
            for _ in range(cfg.teacher_per_task):
                solution = sol if (sol.success and rng.random() < 0.4) else None
                examples.append(teacher_example(ep, env, name, solution, rng, cfg.short_teacher))
            if rng.random() < cfg.reflect_share:
                examples += reflection_examples(ep, name, rng)
    order = rng.permutation(len(examples))
    return [examples[int(i)] for i in order]
