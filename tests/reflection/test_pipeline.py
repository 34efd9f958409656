"""End to end: failures -> reflections -> curated playbook -> teacher section -> run dir."""

import json

import pytest

from reflection import (
    Attempt,
    CallableGenerator,
    Playbook,
    PlaybookRecorder,
    ReflectionConfig,
    ReflectionPipeline,
    ScriptedGenerator,
    playbook_at,
    read_history,
)
from reflection.show import main as show_main
from rundir import PLAYBOOK_HISTORY, RunDir, RunDirError

FAIL_1 = Attempt(
    "Guess the 5-letter word.",
    "<think>hmm</think>[crane]",
    "C absent, R present",
    False,
    "w:1",
    ["guess 1 used no vowel besides A"],
)
FAIL_2 = Attempt("Guess the 5-letter word.", "[xyzzy]", "not a word", False, "w:2", [])
WIN = Attempt("Guess the 5-letter word.", "[stare]", "solved", True, "w:3")


def scripted():
    """Answers by prompt kind; the reflection of the second failure is broken JSON."""

    def answer(conv):
        body = conv[-1]["content"]
        if "unsuccessful attempt" in body:
            if "[xyzzy]" in body:
                return "I cannot produce JSON today"
            return (
                '```json\n{"reasoning": "r", "error_identification": "reused C",'
                ' "root_cause": "ignored marks", "correct_approach": "drop absent letters",'
                ' "key_insight": "track absent letters", "bullet_tags": '
                '{"str-00001": "harmful", "str-00999": "helpful"},}\n```'
            )
        if "succeeded" in body:
            return '{"bullet_tags": [{"id": "str-00002", "tag": "helpful"}]}'
        return (
            "{'operations': [{'type': 'ADD', 'section': 'common mistakes to avoid', "
            "'content': 'Drop letters marked absent from later guesses.'}]}"
        )

    return ScriptedGenerator(answer)


def seeded_playbook():
    pb = Playbook()
    pb.add("strategies & insights", "Guess words with rare letters first.", 0)
    pb.add("strategies & insights", "Open with a word rich in vowels.", 0)
    return pb


def test_end_to_end_step():
    gen = scripted()
    pipe = ReflectionPipeline(gen, ReflectionConfig(frequency=100), seeded_playbook())
    report = pipe.update(1, [FAIL_1, WIN, FAIL_2])
    # two model calls: all reflection/tagging prompts, then all curation prompts
    assert [len(c) for c in gen.calls] == [3, 1]
    assert "hmm" not in gen.calls[0][0][0]["content"]
    r1, none, r2 = report.reflections
    assert none is None and r1.status == "ok" and r2.status == "dropped"
    assert r1.task_id == "w:1" and "Key insight: track absent letters" in r1.as_text()
    c = report.counts
    assert (c["failures"], c["successes"]) == (2, 1)
    assert (c["reflections_ok"], c["reflections_dropped"], c["unknown_ids"]) == (1, 1, 1)
    assert c["tokens_reflect"] > 0 and c["tokens_curate"] > 0
    assert report.tags == [("str-00001", "harmful"), ("str-00002", "helpful")]
    assert [b.text for b in report.added] == ["Drop letters marked absent from later guesses."]
    pb = pipe.playbook
    assert pb.bullets["str-00001"].harmful == 1 and pb.bullets["str-00002"].helpful == 1
    section = pipe.render_playbook()
    assert "## COMMON MISTAKES TO AVOID\n[err-00003] helpful=0 harmful=0 :: Drop letters" in section
    assert report.snapshot == {"str-00001": [0, 1], "str-00002": [1, 0], "err-00003": [0, 0]}


def test_concise_schedule_and_order():
    gen = scripted()
    cfg = ReflectionConfig(frequency=2, concise_policy="prioritized", cap=50)
    pipe = ReflectionPipeline(gen, cfg, seeded_playbook())
    first = pipe.update(1, [FAIL_1])  # update 1: no periodic concise
    assert first.removed == []
    second = pipe.update(2, [WIN])  # update 2: periodic concise drops the harmful str-00001
    assert ("str-00001", "concise: harmful") in second.removed
    assert "err-00003" in pipe.playbook  # young untagged lesson survives its first concise


def test_cap_enforced_after_add():
    gen = scripted()
    pipe = ReflectionPipeline(gen, ReflectionConfig(cap=2, frequency=100), seeded_playbook())
    report = pipe.update(1, [FAIL_1])
    assert len(pipe.playbook) <= 2 and report.counts["playbook_size"] == len(pipe.playbook)
    assert any(why.startswith("concise") for _, why in report.removed)


def test_oracle_needs_no_model_for_reflections():
    gen = ScriptedGenerator(['{"operations": [{"type": "ADD", "content": "Use vowels."}]}'])
    cfg = ReflectionConfig(oracle=True, tag_successes=False)
    pipe = ReflectionPipeline(gen, cfg)
    report = pipe.update(1, [FAIL_1, FAIL_2])
    r1, r2 = report.reflections
    assert r1.status == "oracle" and "guess 1 used no vowel" in r1.as_text()
    assert r2.status == "dropped"  # no hindsight notes: no reflection
    assert [len(c) for c in gen.calls] == [1]  # only curation, for the one usable reflection
    assert "guess 1 used no vowel" in gen.calls[0][0][0]["content"]
    assert [b.text for b in report.added] == ["Use vowels."]
    ReflectionPipeline(None, ReflectionConfig(oracle=True, tag_successes=False, curate=False))
    with pytest.raises(ValueError, match="generator is needed"):
        ReflectionPipeline(None, ReflectionConfig())


def test_reflect_off_and_callable_generator():
    pipe = ReflectionPipeline(
        CallableGenerator(lambda convs: ["{}"] * len(convs)), ReflectionConfig(reflect=False)
    )
    report = pipe.update(1, [FAIL_1, WIN])
    assert report.reflections == [None, None] and len(pipe.playbook) == 0


def test_config_errors_are_one_line():
    for kwargs in [
        {"concise_policy": "lru"},
        {"ops": ("MERGE",)},
        {"cap": 0},
        {"similarity": "bert"},
        {"frequency": 0},
    ]:
        with pytest.raises(ValueError, match="^reflection config: ") as e:
            ReflectionConfig(**kwargs)
        assert "\n" not in str(e.value)


def test_state_dict_resume_is_deterministic():
    def run(split):
        pipe = ReflectionPipeline(
            scripted(), ReflectionConfig(cap=2, frequency=1, seed=3), seeded_playbook()
        )
        for step in range(1, 4):
            if step == split:
                state = json.loads(json.dumps(pipe.state_dict()))
                pipe = ReflectionPipeline(scripted(), ReflectionConfig(cap=2, frequency=1, seed=3))
                pipe.load_state_dict(state)
            pipe.update(step, [FAIL_1, WIN])
        return pipe.playbook.to_dict()

    assert run(split=None) == run(split=2)


def test_recorder_and_show(tmp_path, capsys):
    pipe = ReflectionPipeline(scripted(), ReflectionConfig(frequency=2), seeded_playbook())
    run_dir = RunDir.create(tmp_path / "run")
    rec = PlaybookRecorder(run_dir)
    for step in (1, 2, 3):
        rec.record(pipe.update(step, [FAIL_1, WIN, FAIL_2]), pipe.playbook)
    run_dir.close()
    records = read_history(tmp_path / "run")
    assert [r["step"] for r in records] == [1, 2, 3]
    assert Playbook.load(tmp_path / "run" / "playbook.json").to_dict() == pipe.playbook.to_dict()
    at1 = playbook_at(tmp_path / "run", 1)
    assert at1.bullets["str-00001"].harmful == 1 and "err-00003" in at1
    assert at1.bullets["err-00003"].text == "Drop letters marked absent from later guesses."

    assert show_main([str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "== playbook (latest)" in out and "== 3 update steps ==" in out
    assert "step 1: 2 failures, 1 successes; +1 added" in out
    assert "+ [err-00003] Drop letters marked absent" in out
    assert "- [str-00001] (concise: harmful)" in out
    assert "reflections_dropped=1" in out and "unknown_ids=1" in out
    assert show_main([str(tmp_path / "run"), "--step", "1", "--no-steps"]) == 0
    assert "playbook after step 1" in capsys.readouterr().out
    assert show_main([str(tmp_path / "nope")]) == 2

    history = tmp_path / "run" / PLAYBOOK_HISTORY
    with open(history, "a") as f:
        f.write('{"step": 4, "added": [tor')  # a torn last line: a write in progress or a crash
    assert [r["step"] for r in read_history(tmp_path / "run")] == [1, 2, 3]
    lines = history.read_text().splitlines(keepends=True)
    history.write_text(lines[0] + lines[1].replace('"step":2', '"step":7') + lines[2])
    with pytest.raises(RunDirError, match="playbook_history.jsonl:2: checksum mismatch"):
        read_history(tmp_path / "run")
    assert show_main([str(tmp_path / "run")]) == 2
    assert "checksum mismatch" in capsys.readouterr().err


def test_answer_prefix_is_given_to_the_generator_and_kept_in_the_answer():
    """With ``answer_prefix`` every prompt ends with a pre-filled assistant turn and the
    parsed text is prefix + continuation (the model never wrote the prefix itself)."""
    prefix = '{"'

    def answer(conv):
        assert conv[-1] == {"role": "assistant", "content": prefix}
        body = conv[-2]["content"]
        if "unsuccessful attempt" in body:
            return (
                'reasoning": "r", "error_identification": "e", "root_cause": "c",'
                ' "correct_approach": "a", "key_insight": "k", "bullet_tags": []}'
            )
        if "succeeded" in body:
            return 'bullet_tags": []}'
        return 'operations": [{"type": "ADD", "section": "common mistakes to avoid",' + (
            ' "content": "Drop letters marked absent."}]}'
        )

    gen = ScriptedGenerator(answer)
    config = ReflectionConfig(frequency=100, answer_prefix=prefix)
    report = ReflectionPipeline(gen, config, seeded_playbook()).update(1, [FAIL_2, WIN])
    assert report.reflections[0].status == "ok"
    assert report.reflections[0].raw.startswith('{"reasoning"')
    assert report.counts["tag_outputs_unparsed"] == 0
    assert [b.text for b in report.added] == ["Drop letters marked absent."]
    # without a prefix the conversations end with the user's prompt, as before
    plain = ScriptedGenerator(lambda conv: "{}")
    ReflectionPipeline(plain, ReflectionConfig(curate=False)).update(1, [FAIL_2])
    assert plain.calls[0][0][-1]["role"] == "user"
