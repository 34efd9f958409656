"""XBRL tagging: rules decide labels, random tagging scores 1/L, held-out templates stay out."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import envs
from envs.players import scripted_action
from envs.splits import eval_task_seed, split_of, train_task_seed
from envs.xbrl import (
    CATALOGUE,
    PAIRS,
    TEMPLATES,
    LabelSet,
    XbrlTagging,
    label_names,
    label_set,
    parse_answer,
    render_answer,
)
from envs.xbrl import sentences as text

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"\[#(\d+) [^\]]+\]")
Z = 3.29  # two-sided 99.9% normal quantile


# -- a tagger that reads only the observation and the rule table ----------------------------------
def cue_pattern(cue: str) -> re.Pattern[str]:
    return re.compile(r"(?<![\w-])" + re.escape(cue) + r"(?![\w-])", re.I)


def oracle_answer(observation: str, rules: LabelSet) -> str:
    """For each marker, the cue that ends closest before it (the longest on a tie), between it
    and the previous marker, and that cue's label by the rules."""
    sentence = observation.split("\nSentence: ", 1)[1].split("\n", 1)[0]
    patterns = [(r.cue, cue_pattern(r.cue)) for r in rules.rules]
    labels, start = [], 0
    for marker in MARKER.finditer(sentence):
        segment = sentence[start : marker.start()]
        found = [(m.end(), len(cue), cue) for cue, p in patterns for m in p.finditer(segment)]
        assert found, f"no cue before marker #{marker.group(1)} in {sentence!r}"
        labels.append(rules.label_of(max(found)[2]))
        start = marker.end()
    return render_answer(labels)


def shown_labels(observation: str) -> list[str]:
    line = re.search(r"^Labels \(\d+\): (.*)\.$", observation, re.M)
    assert line, "the label list is not in the observation"
    return line.group(1).split(", ")


def marked_count(observation: str) -> int:
    return len(MARKER.findall(observation.split("\nSentence: ", 1)[1].split("\n", 1)[0]))


# -- the rules decide every label -----------------------------------------------------------------
@pytest.mark.parametrize("preset", ["default", "hard"])
def test_rule_reading_oracle_solves_500_tasks(preset):
    env = envs.make("xbrl", preset=preset)
    rules = label_set(env.labels, env.key)
    for seed in range(500):
        split = "eval" if seed % 5 == 0 else "train"
        obs, _ = env.reset(seed=seed, options={"split": split})
        _, reward, terminated, _, info = env.step(oracle_answer(obs, rules))
        assert info["success"] and reward == 1.0 and terminated, (obs, info["feedback"])
        assert info["progress"] == 1.0


def test_each_cue_means_one_label_and_catalogue_is_sound():
    names = [spec.name for spec in CATALOGUE]
    assert len(names) == len(set(names)) == 100
    assert all(re.fullmatch(r"[A-Z][A-Za-z]+", n) and len(n) <= 56 for n in names)
    own = Counter(cue.lower() for spec in CATALOGUE for cue in spec.cues)
    house = Counter(cue.lower() for pair in PAIRS for cue in pair.house)
    assert max((own + house).values()) == 1  # no phrasing is shared
    assert all(len(spec.cues) >= 3 for spec in CATALOGUE)
    for pair in PAIRS:  # partners sit side by side, so a prefix of the catalogue keeps pairs
        assert names.index(pair.second) == names.index(pair.first) + 1
    full = label_set(100, 0)
    assert {r.cue.lower() for r in full.rules} == set(own) | set(house)
    for rule in full.rules:
        assert rule.cue in full.cues_of(rule.label)


def test_no_cue_hides_in_templates_companies_periods_or_distractors():
    patterns = [cue_pattern(r.cue) for r in label_set(100, 0).rules]
    rng = np.random.default_rng(0)
    filler = [t.frame.format(company="", period="", mentions="") + " " + t.verb for t in TEMPLATES]
    filler += list(text.COMPANIES) + [text.period(rng) for _ in range(200)]
    filler += [" ".join(text.distractors(3, rng)) for _ in range(200)]
    for piece in filler:
        assert not any(p.search(piece) for p in patterns), piece


def test_house_cues_follow_the_key_and_pairs_need_both_labels():
    sides = {key: label_set(24, key) for key in range(12)}
    eps_side = {key: ls.label_of("EPS") for key, ls in sides.items()}
    assert set(eps_side.values()) == {"EarningsPerShareBasic", "EarningsPerShareDiluted"}
    assert all(ls.names == label_names(24) for ls in sides.values())  # the key keeps the list
    small = label_set(5, 0)  # IncomeLossBeforeIncomeTaxes without NetIncomeLoss: no pair
    assert "IncomeLossBeforeIncomeTaxes" not in small.partners
    with pytest.raises(KeyError):
        small.rule_of("earnings")
    assert label_set(6, 0).rule_of("earnings").house


# -- a uniform random tagger scores 1/L per number ------------------------------------------------
@pytest.mark.parametrize("labels", [8, 24])
def test_uniform_random_tagger_scores_one_over_labels(labels):
    env = envs.make("xbrl", labels=labels)
    rng = np.random.default_rng(labels)
    right = total = 0
    for seed in range(1500):
        obs, _ = env.reset(seed=seed)
        names, count = shown_labels(obs), marked_count(obs)
        guess = [names[int(rng.integers(len(names)))] for _ in range(count)]
        *_, info = env.step(render_answer(guess))
        assert info["valid_action"]
        right += round(info["progress"] * count)
        total += count
    p = 1 / labels
    assert abs(right / total - p) <= Z * math.sqrt(p * (1 - p) / total), (right, total)


# -- determinism, frequencies, reachability -------------------------------------------------------
def test_same_seed_same_task_and_key_changes_only_rules_and_frequencies():
    first = [(XbrlTagging().reset(seed=s)[0]) for s in range(30)]
    again = [(XbrlTagging().reset(seed=s)[0]) for s in range(30)]
    assert first == again
    env, other = XbrlTagging(), XbrlTagging(key=7)
    golds = []
    for s in range(30):
        env.reset(seed=s)
        other.reset(seed=s)
        golds.append((env.gold, env.cues, other.gold))
        assert len(env.gold) == len(env.cues) == marked_count(env._last_obs)
    assert any(a != b for a, _, b in golds)  # another key draws other labels


def test_label_frequencies_follow_the_zipf_ranks():
    ls = label_set(24, 0)
    for zipf in (0.0, 1.0, 2.0):
        expected = np.array([(ls.ranks.index(n) + 1) ** -zipf for n in ls.names])
        assert np.allclose(ls.weights(zipf), expected / expected.sum())
    env = XbrlTagging(numbers=1, confusers=0.0)  # one number: exactly the Zipf draw
    counts = Counter()
    for seed in range(3000):
        env.reset(seed=seed)
        counts[env.gold[0]] += 1
    top, bottom = ls.ranks[0], ls.ranks[-1]
    p_top = ls.weights(1.0)[ls.names.index(top)]
    assert abs(counts[top] / 3000 - p_top) <= Z * math.sqrt(p_top * (1 - p_top) / 3000)
    assert counts[top] > 8 * max(counts[bottom], 1)


def labels_and_cues_seen(env: XbrlTagging, seeds: range) -> tuple[set[str], set[str]]:
    labels, cues = set(), set()
    for seed in seeds:
        env.reset(seed=seed)
        labels.update(env.gold)
        cues.update(env.cues)
    return labels, cues


def test_every_label_and_cue_is_reachable():
    default = XbrlTagging()
    labels, _ = labels_and_cues_seen(default, range(2000))
    assert labels == set(default.label_set.names)
    flat = XbrlTagging(labels=100, zipf=0.0, numbers=4)
    labels, cues = labels_and_cues_seen(flat, range(2500))
    assert labels == set(label_names(100))
    assert cues == {r.cue for r in flat.label_set.rules}


def test_confusers_bring_the_partner_along():
    always, never = XbrlTagging(confusers=1.0, numbers=4), XbrlTagging(confusers=0.0, numbers=4)
    with_partner = {0: 0, 1: 0}
    for i, env in enumerate((never, always)):
        for seed in range(400):
            env.reset(seed=seed)
            gold = env.gold
            with_partner[i] += any(env.label_set.partners.get(g) in gold for g in gold)
    assert with_partner[1] > 2 * with_partner[0]


# -- held-out templates ---------------------------------------------------------------------------
def test_held_out_templates_never_appear_in_training():
    env = XbrlTagging()
    held = {t.id for t in TEMPLATES if split_of(t.id, 0.2) == "eval"}
    assert 2 <= len(held) <= len(TEMPLATES) - 10
    evals = set()
    for i in range(300):
        env.reset(seed=eval_task_seed(i), options={"split": "eval"})
        evals.add(env.task.template)
    assert evals == held
    trained = set()
    for run_seed in (0, 1, 7, 123):
        for i in range(750):
            env.reset(seed=train_task_seed(run_seed, i))
            trained.add(env.task.template)
            assert env.task.sentence.split()[0]  # a sentence was built
    assert trained.isdisjoint(held)
    assert trained | held == {t.id for t in TEMPLATES}


def test_held_out_share_knob_sets_the_split():
    assert XbrlTagging(heldout_share=0.5).eval_share == 0.5
    env = XbrlTagging(heldout_share=0.0)  # no hold-out: evaluation asks the training tasks
    train = [env.reset(seed=s)[0] for s in range(40)]
    evals = [env.reset(seed=s, options={"split": "eval"})[0] for s in range(40)]
    assert train == evals


# -- feedback, progress, hindsight ----------------------------------------------------------------
def task_with(env: XbrlTagging, want) -> int:
    for seed in range(5000):
        env.reset(seed=seed)
        if want(env):
            return seed
    raise AssertionError("no such task")


def test_feedback_per_number_reveals_gold_and_progress_is_the_share_right():
    env = XbrlTagging(numbers=3)
    seed = task_with(env, lambda e: len(e.gold) == 3)
    env.reset(seed=seed)
    gold = env.gold
    wrong = next(n for n in env.label_set.names if n != gold[1])
    obs, reward, terminated, truncated, info = env.step(render_answer([gold[0], wrong, gold[2]]))
    values = [m.value for m in env.task.mentions]
    assert obs.splitlines() == [
        f"#1 {values[0]}: right ({gold[0]}).",
        f"#2 {values[1]}: wrong (you said {wrong}); the gold label is {gold[1]}.",
        f"#3 {values[2]}: right ({gold[2]}).",
        "2 of 3 right.",
    ]
    assert info["valid_action"] and not info["success"] and reward == 0.0
    assert info["progress"] == pytest.approx(2 / 3)
    assert terminated and not truncated  # one answer by default
    env.reset(seed=seed)
    *_, info = env.step("Here you go: " + render_answer(gold).lower())
    assert info["success"] and info["feedback"].endswith("All 3 right. Task solved.")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("I am not sure.", "no [number: Label] entries found"),
        ("[1: Revenues]", "1 of 3 marked numbers tagged; no label for #2, #3"),
        ("[1: Revenues] [2: Revenues] [3: Revenues] [4: Assets]", "#4 is not a marked number"),
        ("[1: Revenue] [2: Assets] [3: Assets]", "'Revenue' (for #1) is not a label (did you"),
        ("[1: Assets] [1: Revenues] [2: Assets] [3: Assets]", "#1 has two different labels"),
    ],
)
def test_malformed_answers_get_the_reason_and_the_last_one_the_gold(answer, reason):
    env = XbrlTagging(numbers=3)
    env.reset(seed=task_with(env, lambda e: len(e.gold) == 3))
    obs, reward, terminated, _, info = env.step(answer)
    assert not info["valid_action"] and reward == 0.0 and info["progress"] == 0.0
    assert reason in obs and terminated
    assert obs.endswith(f"The gold labels: {render_answer(env.gold)}.")
    assert env.hindsight()[0].startswith("The last answer was malformed: ")
    assert len(env.hindsight()) == 1 + 3  # the malformed note and every number's rule


def test_retries_keep_the_episode_until_the_last_answer():
    env = XbrlTagging(max_turns=3)
    env.reset(seed=0)
    gold = env.gold
    obs, _, terminated, truncated, info = env.step("nothing")
    assert not (terminated or truncated) and "gold labels" not in obs
    other = [next(n for n in env.label_set.names if n != g) for g in gold]
    *_, terminated, truncated, info = env.step(render_answer(other))
    assert not (terminated or truncated) and not info["success"]
    *_, terminated, _, info = env.step(render_answer(gold))
    assert terminated and info["success"]
    notes = env.hindsight()  # solved at last, but the earlier misses still teach a rule each
    assert len(notes) == len(gold) and all("the answer said" in n for n in notes)


def test_hindsight_names_the_rule_of_each_miss_and_house_conventions():
    env = XbrlTagging()
    seed = task_with(env, lambda e: any(e.label_set.rule_of(c).house for c in e.cues))
    env.reset(seed=seed)
    gold, cues = env.gold, env.cues
    answer = [env.label_set.partners.get(g, g) for g in gold]  # the partner where there is one
    env.step(render_answer(answer))
    notes = env.hindsight()
    missed = [k for k, (a, g) in enumerate(zip(answer, gold, strict=True)) if a != g]
    assert len(notes) == len(missed) >= 1
    for note, k in zip(notes, missed, strict=True):
        assert note.startswith(f"#{k + 1} {env.task.mentions[k].value}: ")
        assert f"'{cues[k]}' means {gold[k]}" in note and f"the answer said {answer[k]}" in note
        if env.label_set.rule_of(cues[k]).house:
            assert "unqualified cue" in note and f"not {answer[k]}" in note
    env.reset(seed=seed)
    env.step(render_answer(gold))
    assert env.hindsight() == []


def test_intro_states_the_format_and_hides_labels_on_request():
    obs, _ = XbrlTagging().reset(seed=0)
    assert "[number: Label]" in obs and "for example: [1: Revenues]" in obs
    assert shown_labels(obs) == list(label_names(24))
    hidden, _ = XbrlTagging(show_labels=False).reset(seed=0)
    assert "not shown" in hidden and "CostOfRevenue" not in hidden


def test_sentences_are_short():
    env = XbrlTagging()
    lengths = []
    for seed in range(1000):
        env.reset(seed=seed)
        lengths.append(len(env.task.sentence.split()))
    assert max(lengths) <= 60


# -- the answer parser ----------------------------------------------------------------------------
NAMES = label_names(24)


@given(st.text(max_size=400), st.integers(1, 4))
@example("[" * 5000, 2)
@example("[1: \ud800] [\x00", 1)
@example("1: Revenues\n2: assets\n", 2)
def test_parser_never_raises(answer, count):
    parsed = parse_answer(answer, NAMES, count)
    assert (parsed.labels is None) == bool(parsed.reason)
    if parsed.labels is not None:
        assert len(parsed.labels) == count and set(parsed.labels) <= set(NAMES)


@given(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=4),
    st.randoms(use_true_random=False),
    st.sampled_from(["", "Answer: ", "The tags are\n"]),
)
def test_rendered_answers_parse_back_in_any_order_case_and_prose(labels, random, lead):
    entries = render_answer(labels).split("] ")
    random.shuffle(entries)
    noisy = " and ".join(e if e.endswith("]") else e + "]" for e in entries)
    noisy = "".join(c.upper() if random.random() < 0.3 else c for c in noisy)
    assert parse_answer(lead + noisy + " (done)", NAMES, len(labels)).labels == tuple(labels)


def test_parser_accepts_lines_and_a_lone_label():
    assert parse_answer("1: Revenues\n2) assets.", NAMES, 2).labels == ("Revenues", "Assets")
    assert parse_answer("[#1 = GrossProfit]", NAMES, 1).labels == ("GrossProfit",)
    assert parse_answer("I say [grossprofit]", NAMES, 1).labels == ("GrossProfit",)
    assert parse_answer("[grossprofit]", NAMES, 2).labels is None  # which number? say it
    echo = "[#1 $4.2 million] is [1: Revenues]"
    assert parse_answer(echo, NAMES, 1).labels == ("Revenues",)


# -- knobs, registration, the scripted player, the run settings -----------------------------------
@pytest.mark.parametrize(
    ("knob", "bad", "shown"),
    [
        ("labels", 3, r"\[4, 100\]"),
        ("labels", 101, r"\[4, 100\]"),
        ("numbers", 5, r"\[1, 4\]"),
        ("confusers", 1.5, r"\[0, 1\]"),
        ("confusers", True, r"\[0, 1\]"),
        ("distractors", 4, r"\[0, 3\]"),
        ("zipf", -0.1, r"\[0, 3\]"),
        ("zipf", float("nan"), r"\[0, 3\]"),
        ("show_labels", "no", "False, True"),
        ("heldout_share", 0.9, r"\[0, 0.8\]"),
        ("max_turns", 0, r"\[1, 10\]"),
        ("key", -1, r"\[0, 2147483647\]"),
    ],
)
def test_bad_knobs_are_one_line_errors(knob, bad, shown):
    with pytest.raises(envs.KnobError, match=f"knob {knob}=.*out of range.*{shown}") as err:
        envs.make("xbrl", **{knob: bad})
    assert "\n" not in str(err.value)


def test_presets_and_gymnasium_id():
    for preset in ("default", "easy", "hard"):
        env = envs.make("xbrl", preset=preset)
        obs, info = env.reset(seed=0)
        assert obs and info["task_id"].startswith("resd/XbrlTagging-v0:")
    assert envs.make("xbrl", preset="hard").knobs()["labels"] == 100
    obs, info = gym.make("resd/XbrlTagging-v0").reset(seed=3)
    assert "Sentence: " in obs and info["task_id"].startswith("resd/XbrlTagging-v0:")


def test_scripted_player_accuracy_follows_its_skill():
    rng = np.random.default_rng(0)
    env = XbrlTagging()
    for skill in (0.0, 0.6, 1.0):
        right = total = 0
        for seed in range(600):
            env.reset(seed=seed)
            *_, info = env.step(scripted_action(env, skill, rng))
            assert info["valid_action"]
            right += round(info["progress"] * len(env.gold))
            total += len(env.gold)
        p = skill + (1 - skill) / 24
        assert abs(right / total - p) <= Z * math.sqrt(max(p * (1 - p), 1e-9) / total) + 1e-9
    a = [scripted_action(env, 0.5, np.random.default_rng(3)) for _ in range(2)]
    assert a[0] == a[1]


def test_max_new_tokens_fits_the_longest_default_answer():
    longest = render_answer(sorted(label_names(24), key=len)[-3:])
    budget = envs.get_spec("xbrl").max_new_tokens
    assert len(longest.encode()) + 8 <= budget  # byte-level: a token a byte


# -- the README shows one wrong answer verbatim ---------------------------------------------------
README_SEED = 179
README_ANSWER = (
    "[1: IncomeLossBeforeIncomeTaxes] [2: EarningsPerShareDiluted] [3: ShareBasedCompensation]"
)


def readme_example() -> str:
    env = envs.make("xbrl")
    obs, _ = env.reset(seed=README_SEED)
    feedback = env.step(README_ANSWER)[0]
    sentence = obs.split("\n")[1]
    notes = "\n".join(f"- {n}" for n in env.hindsight())
    return f"{sentence}\nAnswer: {README_ANSWER}\n\nFeedback:\n{feedback}\n\nHindsight:\n{notes}"


def test_readme_shows_the_feedback_and_hindsight_of_one_wrong_answer():
    assert readme_example() in ROOT.joinpath("README.md").read_text()
