"""The tiny-copy warm start never teaches the student an answer, and its build runs."""

from __future__ import annotations

import random
from collections import Counter

import envs
from smallmodel import toy


def test_student_format_answers_are_independent_of_the_secret():
    pairs = toy.warm_start_pairs(random.Random(1), 600)
    env = envs.make("secret")
    by_task: dict[str, Counter] = {}
    for conversation, answer in pairs:
        content = conversation[0]["content"]
        if content.startswith("Task ") and "\n" not in content:  # the student prompt
            by_task.setdefault(content, Counter())[answer] += 1
    assert len(by_task) == env.n_tasks
    for answers in by_task.values():
        assert len(answers) == env.n_words  # every candidate, not the task's own answer


def test_teacher_format_answers_are_the_revealed_word():
    for conversation, answer in toy.warm_start_pairs(random.Random(2), 200):
        content = conversation[0]["content"]
        if "\n" in content:
            assert answer[1:-1] in content.split("\n", 1)[1]


def test_quick_build_runs():
    built = toy.build(steps=2, batch=4)
    assert sum(p.numel() for p in built.model.parameters()) > 0
