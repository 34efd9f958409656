import json
import re

import numpy as np
import pytest

from learners.models import Policy, SamplingParams, list_presets
from learners.sft import answer_ids
from reflection import parse_operations, parse_reflection
from smallmodel.build import BuildConfig, encode, main, make_model
from smallmodel.corpus import CorpusConfig, build_corpus, random_playbook, reflection_json
from smallmodel.wordtok import build_word_tokenizer, frequent_words

CFG = CorpusConfig(games=("wordle", "mastermind"), tasks=6, reflect_share=1.0)


@pytest.fixture(scope="module")
def corpus():
    return build_corpus(CFG)


@pytest.fixture(scope="module")
def tok(corpus):
    texts = [m["content"] for e in corpus for m in e.messages]
    return build_word_tokenizer(frequent_words(texts, 120, min_count=2))


def test_corpus_is_deterministic_and_has_every_kind(corpus):
    again = build_corpus(CFG)
    assert [e.messages for e in again] == [e.messages for e in corpus]
    assert {e.kind for e in corpus} >= {"student", "teacher", "reflect", "curate"}


def test_teacher_answers_are_revealed_in_their_context(corpus):
    teachers = [e for e in corpus if e.kind == "teacher"]
    assert teachers
    for e in teachers:
        answer = e.messages[-1]["content"]
        assert re.fullmatch(r"\[[a-z1-9 ]+\]", answer)
        first = e.messages[0]["content"]
        secret = answer.strip("[]").upper()
        assert answer in first or f"was {secret}." in first  # Wordle's reveal, Mastermind's


def test_reflection_and_curation_answers_parse(corpus):
    for e in corpus:
        answer = e.messages[-1]["content"]
        if e.kind == "reflect":
            assert parse_reflection(answer).status == "ok"
        elif e.kind == "curate":
            ops, bad, readable = parse_operations(answer)
            assert readable and bad == 0 and all(op.kind == "ADD" for op in ops)


def test_reflection_tags_only_bullets_of_the_prompt():
    rng = np.random.default_rng(0)
    pb = random_playbook("wordle", rng, most=4)
    notes = [
        "Guess 2 (CRANE) ignored feedback: A is not in the word (X in guess 1).",
        "The word was [sloth].",
    ]
    data = json.loads(reflection_json("wordle", notes, pb, rng))
    assert {t["id"] for t in data["bullet_tags"]} <= set(pb.bullets)
    assert "sloth" in data["correct_approach"].lower()


def test_tokenizer_round_trips_and_keeps_game_letters(tok):
    texts = [
        "Turn 1: [crane]\nGuess 1 of 6: CRANE\nC R A N E\nG Y X X X",
        'é 😀 {"reasoning": "x"}\t  the   guess',
        "",
    ]
    for text in texts:
        assert tok.decode(tok(text, add_special_tokens=False)["input_ids"]) == text
    pieces = tok.convert_ids_to_tokens(
        tok("[guess] the guess", add_special_tokens=False)["input_ids"]
    )
    assert pieces[:7] == ["[", "g", "u", "e", "s", "s", "]"]  # a bracketed guess: one per letter
    assert "\u0120guess" in pieces  # prose: one token


def test_game_words_are_one_token_in_both_printed_forms():
    tok = build_word_tokenizer(["guess", "was"], ["about", "storm"])
    text = "Turn 1: [about]\nGuess 1 of 6: ABOUT\nA B O U T\nThe word was [storm]."
    ids = tok(text, add_special_tokens=False)["input_ids"]
    pieces = tok.convert_ids_to_tokens(ids)
    assert tok.decode(ids) == text
    # "[word]" is one token whatever precedes it: the reveal holds the answer's own token
    assert "[about]" in pieces and "\u0120ABOUT" in pieces
    assert pieces[pieces.index("[storm]") - 2 :] == ["\u0120was", "\u0120", "[storm]", "."]
    assert pieces[pieces.index("\u0120ABOUT") + 2] == "A"  # the spaced letters stay bytes
    assert tok.convert_ids_to_tokens(tok("[about]")["input_ids"]) == ["[about]"]
    # inside a longer word, or an unlisted word in brackets: one token per byte
    for text in ("[abouts]", "STORMS", "xSTORM", "[zzzzz]"):
        assert len(tok(text, add_special_tokens=False)["input_ids"]) == len(text)
    with pytest.raises(ValueError, match="game words"):
        build_word_tokenizer([], ["Storm"])


def test_encoding_matches_render_and_answer_ids(corpus, tok):
    policy = Policy(make_model(BuildConfig(hidden_size=16, layers=1, heads=2), tok), tok)
    for e in corpus[:20]:
        ids, labels = encode(tok, e)
        for i in e.targets:
            prompt = policy.render(e.messages[:i])
            answer = answer_ids(policy, e.messages[i]["content"])
            assert ids[: len(prompt)] == prompt
            assert ids[len(prompt) : len(prompt) + len(answer)] == answer
            # next-token labels: the position before each answer token predicts it
            assert labels[len(prompt) - 1 : len(prompt) + len(answer) - 1] == answer
        assert sum(x != -100 for x in labels) == sum(
            len(answer_ids(policy, e.messages[i]["content"])) for i in e.targets
        )


def test_quick_build_runs_and_loads_with_its_own_tokenizer(tmp_path, capsys):
    main(["--out", str(tmp_path / "m"), "--quick"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["steps"] >= 1
    record = json.loads((tmp_path / "m" / "build.json").read_text())
    assert record["probes"] and "p1_copy" in record["probes"][0]
    policy = Policy.load(str(tmp_path / "m"), device="cpu")
    # the word-level tokenizer survives saving: an answer word is one token after loading
    assert policy.tokenizer.tokenize("[about] ABOUT") == ["[about]", "\u0120ABOUT"]
    out = policy.generate(
        [[{"role": "user", "content": "hi"}]], SamplingParams(max_new_tokens=4, seed=0)
    )
    assert len(out) == 1 and len(out[0].token_ids) >= 1


def test_resd_tiny_preset_loads_or_says_how_to_build_it():
    import envs
    from learners.models.presets import RESD_TINY_DIR, PresetUnavailable

    assert "resd-tiny" in list_presets()
    if not (RESD_TINY_DIR / "config.json").exists():
        with pytest.raises(PresetUnavailable, match="smallmodel.build"):
            Policy.load("resd-tiny", device="cpu")
        return
    policy = Policy.load("resd-tiny", device="cpu")
    obs, _ = envs.make("wordle").reset(seed=0)
    outs = policy.generate(
        [[{"role": "user", "content": obs}]] * 8,
        SamplingParams(temperature=1.0, max_new_tokens=24, seed=0),
    )
    assert sum(re.fullmatch(r"\[[a-z]{5}\]", o.text) is not None for o in outs) >= 6
