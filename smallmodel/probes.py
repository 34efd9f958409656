"""Probes printed while the small model builds, so a bad run is stopped in minutes.

* P1 (``copy_probe``, under a second): 40 random answer-word tokens, then the same 40 again;
  the share of the second copy predicted exactly (argmax), right after the first copy and
  with about 1,000 tokens of filler between the copies. Chance is about 1%.
* P2 (``reveal_probe``): SDPO teacher prompts on held-out Wordle tasks (the evaluation split)
  whose feedback holds "The word was [word]." at 10%, 50% or 90% of the feedback, padded with
  real feedback lines to about 256, 512, 1,024 and the longest teacher length; the share whose
  first answer token is ``[word]``. ``p2_swap``: the same at the longest length with the
  revealed word swapped for another answer word; the answer must follow the swap.
* P3: the same prompts with the reveal removed (what the student knows): near chance.
* P4 (``tagging_probe``, builds with the tagging game): held-out tagging tasks (evaluation
  split) with a teacher context, the gold answer teacher-forced; the share of its label
  tokens predicted exactly. ``p4_tag_sdpo``: SDPO's feedback of a random answer (which
  reveals each gold label); ``p4_tag_playbook``: a playbook whose lines state the rules of the
  sentence's cues (relabelled at random, so only reading them helps); ``p4_tag_student``: the
  task alone (chance is about 1 in 24).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

import envs
from envs.splits import eval_task_seed
from envs.wordle import reveal_line
from envs.xbrl.answers import render_answer
from learners.prompts import resd_teacher_task, sdpo_teacher_task
from smallmodel.corpus_xbrl import random_mapping, rule_playbook
from smallmodel.synthetic import Vocab

LENGTHS = (256, 512, 1024, 1536)
DEPTHS = (0.1, 0.5, 0.9)
PER_CELL = 6


@dataclass
class Prompt:
    ids: list[int]
    answer: int  # the token id the model should put first


@dataclass
class ProbeSet:
    copy_near: torch.Tensor  # [rows, 80]
    copy_far: torch.Tensor  # [rows, 80 + filler]
    reveal: dict[str, list[Prompt]]  # "L256_d10" -> prompts; "swap", "student"
    # "sdpo", "playbook", "student" -> (prompt + answer ids, positions of its label tokens)
    tagging: dict[str, list[tuple[list[int], list[int]]]] | None = None

    @classmethod
    def make(
        cls,
        tok: Any,
        vocab: Vocab,
        words: list[str],
        filler: list[list[int]],
        seed: int = 1,
        rows: int = 8,
        tagging: bool = False,
    ) -> ProbeSet:
        rng = np.random.default_rng(seed)
        near, far = [], []
        for _ in range(rows):
            span = [vocab.answers[int(i)] for i in rng.integers(len(vocab.answers), size=40)]
            near.append(span + span)
            gap: list[int] = []
            while len(gap) < 1000:
                gap += filler[int(rng.integers(len(filler)))]
            far.append(span + gap[:1000] + list(vocab.separator) + span)
        reveal = _reveal_prompts(tok, words, rng)
        tags = _tagging_prompts(tok, rng) if tagging else None
        return cls(torch.tensor(near), torch.tensor(far), reveal, tags)


def _feedback_lines(rng: np.random.Generator, words: list[str], n_games: int = 12) -> list[str]:
    """Real Wordle feedback lines (random guesses on held-out tasks), reveals left out."""
    lines: list[str] = []
    env = envs.make("wordle")
    for g in range(n_games):
        env.reset(seed=eval_task_seed(500 + g), options={"split": "eval"})
        for turn in range(1, 7):
            _, _, term, trunc, info = env.step(f"[{words[int(rng.integers(len(words)))]}]")
            text = info["feedback"].split("\nTurn budget")[0]
            text = text.replace(reveal_line(env.unwrapped.secret), "").strip()
            lines.append(f"Turn {turn}: {text.strip()}")
            if term or trunc:
                break
    return lines


def _chat_ids(tok: Any, content: str) -> list[int]:
    text = tok.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False
    )
    return tok(text, add_special_tokens=False)["input_ids"]


def _prompt(
    tok: Any, task: str, lines: list[str], reveal: str | None, depth: float, length: int
) -> list[int]:
    """An SDPO teacher prompt whose feedback has ``reveal`` at ``depth`` and ~``length`` ids."""
    body: list[str] = []
    for line in lines:
        trial = [*body, line]
        if len(_chat_ids(tok, sdpo_teacher_task(task, feedback="\n".join(trial)))) > length:
            break
        body = trial
    if reveal is not None:
        body.insert(round(depth * len(body)), reveal)
    return _chat_ids(tok, sdpo_teacher_task(task, feedback="\n".join(body)))


def _reveal_prompts(tok: Any, words: list[str], rng: np.random.Generator) -> dict[str, list]:
    lines = _feedback_lines(rng, words, n_games=40)
    env = envs.make("wordle")
    out: dict[str, list[Prompt]] = {}

    def answer_id(word: str) -> int:
        return tok(f"[{word}]", add_special_tokens=False)["input_ids"][0]

    for i in range(PER_CELL):
        task, _ = env.reset(seed=eval_task_seed(i), options={"split": "eval"})
        secret = env.unwrapped.secret
        order = [lines[int(k)] for k in rng.permutation(len(lines))]
        for length in LENGTHS:
            for depth in DEPTHS:
                ids = _prompt(tok, task, order, reveal_line(secret), depth, length)
                out.setdefault(f"L{length}_d{round(depth * 100)}", []).append(
                    Prompt(ids, answer_id(secret))
                )
        other = words[int(rng.integers(len(words)))]
        ids = _prompt(tok, task, order, reveal_line(other), 0.5, LENGTHS[-1])
        out.setdefault("swap", []).append(Prompt(ids, answer_id(other)))
        ids = _prompt(tok, task, order, None, 0.5, LENGTHS[-1])
        out.setdefault("student", []).append(Prompt(ids, answer_id(secret)))
    return out


def _tagging_prompts(
    tok: Any, rng: np.random.Generator, n: int = 16
) -> dict[str, list[tuple[list[int], list[int]]]]:
    env = envs.make("xbrl")
    game = env.unwrapped
    names = game.label_set.names
    label_ids = {tok(f" {name}", add_special_tokens=False)["input_ids"][0] for name in names}
    out: dict[str, list[tuple[list[int], list[int]]]] = {}

    def add(kind: str, content: str, answer: str) -> None:
        prompt = _chat_ids(tok, content)
        said = tok(answer, add_special_tokens=False)["input_ids"]
        ids = prompt + said
        at = [len(prompt) + j for j, t in enumerate(said) if t in label_ids]
        out.setdefault(kind, []).append((ids, at))

    for i in range(n):
        task, _ = env.reset(seed=eval_task_seed(700 + i), options={"split": "eval"})
        gold = list(game.gold)
        add("student", task, render_answer(gold))
        said = [names[int(k)] for k in rng.integers(len(names), size=len(gold))]
        feedback = env.step(render_answer(said))[0]
        add("sdpo", sdpo_teacher_task(task, feedback=feedback), render_answer(gold))
        mapping = random_mapping(gold, names, rng)
        moved = [mapping[g] for g in gold]
        pb = rule_playbook(env, rng, list(zip(game.cues, moved, strict=True)))
        add("playbook", resd_teacher_task(task, playbook=pb.render()), render_answer(moved))
    return out


@torch.no_grad()
def tagging_probe(model: torch.nn.Module, ps: ProbeSet) -> dict[str, float]:
    """P4: label tokens of the gold answer predicted exactly (teacher-forced)."""
    out: dict[str, float] = {}
    for kind, rows in (ps.tagging or {}).items():
        hits = total = 0
        for ids, at in rows:
            logits = model(input_ids=torch.tensor([ids])).logits[0]
            pred = logits[[j - 1 for j in at]].argmax(-1)
            hits += int((pred == torch.tensor([ids[j] for j in at])).sum())
            total += len(at)
        out[f"p4_tag_{kind}"] = round(hits / max(total, 1), 3)
    return out


@torch.no_grad()
def _second_copy_accuracy(model: torch.nn.Module, rows: torch.Tensor) -> float:
    logits = model(input_ids=rows).logits
    span = 40
    pred = logits[:, -span - 1 : -1].argmax(-1)
    return float((pred == rows[:, -span:]).float().mean())


def copy_probe(model: torch.nn.Module, ps: ProbeSet) -> dict[str, float]:
    return {
        "p1_copy": round(_second_copy_accuracy(model, ps.copy_near), 3),
        "p1_copy_far": round(_second_copy_accuracy(model, ps.copy_far), 3),
    }


@torch.no_grad()
def _first_token_accuracy(model: torch.nn.Module, prompts: list[Prompt]) -> float:
    hits = 0
    for p in prompts:
        logits = model(input_ids=torch.tensor([p.ids])).logits[0, -1]
        hits += int(int(logits.argmax()) == p.answer)
    return hits / max(len(prompts), 1)


def reveal_probe(model: torch.nn.Module, ps: ProbeSet) -> dict[str, float]:
    """P2 per length and depth, the swap at the longest length, and P3 (the student)."""
    out = {}
    for key, prompts in ps.reveal.items():
        name = {"swap": "p2_swap", "student": "p3_student"}.get(key, f"p2_{key}")
        out[name] = round(_first_token_accuracy(model, prompts), 3)
    return out
