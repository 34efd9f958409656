"""The run directory's owner: checksummed lines, atomic files, records, lock, checkpoints.

Properties over hypothesis data: any record (any string, lone surrogates included) written to
a log or a JSON file reads back equal, and any single changed byte anywhere in a log is
reported with its file and line, not skipped.
"""

from __future__ import annotations

import errno
import math
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rundir import (
    CHECKPOINT,
    CONFIG,
    EPISODES,
    EVALS,
    LOGS,
    UPDATES,
    EpisodeRecord,
    EvalRecord,
    RunDir,
    RunDirError,
    SummaryRecord,
    TurnRecord,
    UpdateRecord,
    read_evals,
    read_json_object,
    read_log,
    write_json_atomic,
)
from rundir.jsonl import decode_line, encode_line
from tests.hostile_text import EVERY_CHARACTER, FAST, hostile_text

ROOT = Path(__file__).resolve().parents[2]
TMP = settings(FAST, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False),
    st.text(EVERY_CHARACTER, max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(EVERY_CHARACTER, max_size=10), inner, max_size=4),
    ),
    max_leaves=20,
)
records = st.dictionaries(
    st.text(EVERY_CHARACTER, max_size=10).filter(lambda k: k != "_crc"),
    json_values,
    min_size=1,
    max_size=6,
)


def new_run(path: Path) -> RunDir:
    run = RunDir.create(path)
    run.write_json(CONFIG, {"env": "secret"})
    return run


def evals(samples: list[int]) -> list[EvalRecord]:
    return [EvalRecord(i, s, 0.5, 0.75, 0.5, 1.0, 2, 4) for i, s in enumerate(samples)]


# -- the line format ------------------------------------------------------------------------------
@FAST
@given(records)
def test_any_record_round_trips_through_a_line(record):
    line = encode_line(record)
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and line.isascii()
    assert decode_line(line[:-1], "log:1") == record


@TMP
@given(st.lists(records, min_size=1, max_size=5), st.data())
def test_any_changed_byte_is_reported_with_its_line(tmp_path, lines, data):
    path = tmp_path / "log.jsonl"
    blob = b"".join(encode_line(r) for r in lines)
    at = data.draw(st.integers(0, len(blob) - 2), label="position")  # the last \n stays
    new = data.draw(st.integers(0, 255), label="byte")
    assume(blob[at] != new)
    path.write_bytes(blob[:at] + bytes([new]) + blob[at + 1 :])
    line = blob[:at].count(b"\n") + 1
    with pytest.raises(RunDirError, match=rf"log.jsonl:{line}: ") as info:
        read_log(path)
    assert "\n" not in str(info.value)


def test_a_torn_or_edited_line_anywhere_is_an_error(tmp_path):
    path = tmp_path / EVALS
    path.write_bytes(b"".join(encode_line(e.to_json()) for e in evals([0, 8, 16])))
    good = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(good[0] + good[1][:20] + b"\n" + good[2])  # torn in the middle
    with pytest.raises(RunDirError, match=r"evals.jsonl:2: no checksum"):
        read_evals(tmp_path)
    path.write_bytes(good[0] + good[1].replace(b'"samples":8', b'"samples":9') + good[2])
    with pytest.raises(RunDirError, match=r"evals.jsonl:2: checksum mismatch"):
        read_evals(tmp_path)
    path.write_bytes(b"".join(good) + good[2][:30])  # a write in progress, or cut by a crash
    with pytest.raises(RunDirError, match=r"evals.jsonl:4: torn last line"):
        read_evals(tmp_path)
    assert [p.samples for p in read_evals(tmp_path, live=True)] == [0, 8, 16]


# -- records -----------------------------------------------------------------------------------
@TMP
@given(hostile_text, hostile_text, st.lists(hostile_text, max_size=3))
def test_episode_records_with_any_text_round_trip(tmp_path, action, feedback, hindsight):
    episode = EpisodeRecord(
        sample=0,
        step=0,
        task_id=action[:10],
        group_id=0,
        seed=1,
        success=False,
        progress=0.5,
        reward=-1.0,
        truncated=True,
        task=feedback,
        turns=(TurnRecord(action, feedback, False, 3, "length"),),
        hindsight=tuple(hindsight),
    )
    run = RunDir.create(tmp_path / "r")
    try:
        run.append(episode)
    finally:
        run.close()
    (line,) = read_log(tmp_path / "r" / EPISODES)
    assert EpisodeRecord.from_json(line, "episodes.jsonl:1") == episode


def test_update_records_keep_metrics_and_nan():
    update = UpdateRecord(3, 32, 0.25, 40, 99, {"loss": float("nan"), "kl": 0.5})
    back = UpdateRecord.from_json(decode_line(encode_line(update.to_json())[:-1], "u:1"), "u:1")
    assert (back.step, back.samples, back.metrics["kl"]) == (3, 32, 0.5)
    assert math.isnan(back.metrics["loss"])


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("success_mean", float("nan"), "success_mean=nan is not a finite number"),
        ("success_best", 1.5, "success_best=1.5 is not a finite number in"),
        ("samples", True, "samples=True is not an integer"),
        ("k", 0, "k=0 is not an integer >= 1"),
        ("step", "3", "step='3' is not an integer"),
    ],
)
def test_eval_records_refuse_bad_values(field, value, message):
    good = evals([8])[0].to_json()
    with pytest.raises(RunDirError, match=rf"^evals.jsonl:1: {message}"):
        EvalRecord.from_json({**good, field: value}, "evals.jsonl:1")
    with pytest.raises(RunDirError, match="lacks 'n_tasks'"):
        EvalRecord.from_json({k: v for k, v in good.items() if k != "n_tasks"}, "e")


def test_a_curve_that_goes_back_is_refused(tmp_path):
    run = new_run(tmp_path / "r")
    for point in evals([0, 16, 8]):
        run.append(point)
    run.close()
    with pytest.raises(RunDirError, match=r"evals.jsonl:3: the curve goes back \(samples 16 -> 8"):
        read_evals(tmp_path / "r")


def test_summary_record_checks_numbers():
    tokens = dict.fromkeys(("policy", "reflection", "curation", "eval"), 1)
    summary = SummaryRecord("wordle", "resd", "tiny", 0, 32, 4, 0.5, 0.0, tokens, 3.0, {"eval": 1})
    assert SummaryRecord.from_json(summary.to_json(), "s") == summary
    with pytest.raises(RunDirError, match="final_success=nan"):
        SummaryRecord.from_json({**summary.to_json(), "final_success": math.nan}, "s")


# -- JSON files -----------------------------------------------------------------------------------
@TMP
@given(records)
def test_any_json_file_round_trips(tmp_path, record):
    write_json_atomic(tmp_path / "f.json", record)
    assert read_json_object(tmp_path / "f.json") == record
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temporary file left


def test_unreadable_json_files_are_one_line_errors(tmp_path):
    path = tmp_path / CONFIG
    path.write_bytes(b'{"env": "caf\xe9"}')
    with pytest.raises(RunDirError, match=r"config.json: not UTF-8 \(byte 12\)"):
        read_json_object(path)
    path.write_text('{"env": "wordle", "lear')
    with pytest.raises(RunDirError, match="config.json: not valid JSON, torn or edited"):
        read_json_object(path)
    path.write_text("[1, 2]")
    with pytest.raises(RunDirError, match="expected a JSON object"):
        read_json_object(path)


# -- the directory: creation, lock, disk errors ---------------------------------------------------
def test_create_refuses_a_run_and_bad_paths(tmp_path):
    new_run(tmp_path / "r").close()
    with pytest.raises(RunDirError, match="already holds a run"):
        RunDir.create(tmp_path / "r")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="file exists and is not a directory"):
        RunDir.create(tmp_path / "file")
    with pytest.raises(RunDirError, match=r"cannot write .*file/run: Not a directory"):
        RunDir.create(tmp_path / "file" / "run")
    with pytest.raises(RunDirError, match="holds no run to resume"):
        RunDir.open(tmp_path / "empty")


def test_a_second_writer_is_refused_until_the_first_closes(tmp_path):
    first = new_run(tmp_path / "r")
    with pytest.raises(RunDirError, match=rf"is in use by another run \(pid {os.getpid()}\)"):
        RunDir.open(tmp_path / "r")
    first.close()
    RunDir.open(tmp_path / "r").close()


def test_a_killed_writer_leaves_no_stale_lock(tmp_path):
    new_run(tmp_path / "r").close()
    hold = (
        f"from rundir import RunDir; RunDir.open({str(tmp_path / 'r')!r}); "
        "print('held', flush=True); import time; time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], cwd=ROOT, stdout=subprocess.PIPE)
    assert holder.stdout.readline().strip() == b"held"
    with pytest.raises(RunDirError, match=f"pid {holder.pid}"):
        RunDir.open(tmp_path / "r")
    holder.kill()
    holder.wait()
    RunDir.open(tmp_path / "r").close()


def failing_write(after: int, code: int):
    """os.write that writes ``after`` bytes of its first call, then raises ``code``."""
    real = os.write

    def write(fd, data):
        real(fd, bytes(data[:after]))
        raise OSError(code, os.strerror(code))

    return write


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_failed_append_is_one_line_and_leaves_whole_lines(tmp_path, monkeypatch, code):
    run = new_run(tmp_path / "r")
    run.append(evals([0])[0])
    monkeypatch.setattr(os, "write", failing_write(10, code))
    with pytest.raises(RunDirError, match=rf"cannot write .*evals.jsonl: {os.strerror(code)}"):
        run.append(evals([0, 8])[1])
    monkeypatch.undo()
    run.close()
    assert [p.samples for p in read_evals(tmp_path / "r")] == [0]


def test_a_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    write_json_atomic(tmp_path / "s.json", {"v": 1})

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(RunDirError, match="cannot write .*s.json: No space left on device"):
        write_json_atomic(tmp_path / "s.json", {"v": 2})
    monkeypatch.undo()
    assert read_json_object(tmp_path / "s.json") == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


# -- checkpoints ------------------------------------------------------------------------------
def test_checkpoints_round_trip_rng_states_without_pickled_code(tmp_path):
    run = new_run(tmp_path / "r")
    state = {
        "learner": {"w": torch.arange(4.0), "rng": {"torch": torch.get_rng_state()}},
        "python_rng": random.Random(3).getstate(),
        "counters": {"samples": 8, "tokens": {"policy": 5}},
    }
    run.save_checkpoint(state)
    run.close()
    run = RunDir.open(tmp_path / "r")
    back = run.read_checkpoint()
    run.close()
    assert torch.equal(back.state["learner"]["w"], torch.arange(4.0))
    restored = random.Random()
    restored.setstate(back.state["python_rng"])
    assert restored.random() == random.Random(3).random()
    assert back.log_lines == dict.fromkeys(LOGS, 0)


class Payload:
    """A pickle that would create a file when unpickled with weights_only=False."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_that_would_run_code_is_refused_unrun(tmp_path):
    run = new_run(tmp_path / "r")
    marker = tmp_path / "pwned"
    with open(tmp_path / "r" / CHECKPOINT, "wb") as f:
        pickle.dump({"log_lines": {}, "x": Payload(marker)}, f, protocol=2)
    with pytest.raises(RunDirError, match=r"checkpoint.pt: unreadable checkpoint \("):
        run.read_checkpoint()
    assert not marker.exists()
    torch.save({"log_lines": {}, "x": Payload(marker)}, tmp_path / "r" / CHECKPOINT)
    with pytest.raises(RunDirError, match="unreadable checkpoint"):
        run.read_checkpoint()
    assert not marker.exists()
    run.close()


def test_missing_truncated_and_foreign_checkpoints_are_refused(tmp_path):
    run = new_run(tmp_path / "r")
    with pytest.raises(RunDirError, match="checkpoint.pt: missing"):
        run.read_checkpoint()
    run.save_checkpoint({"counters": {}})
    data = (tmp_path / "r" / CHECKPOINT).read_bytes()
    (tmp_path / "r" / CHECKPOINT).write_bytes(data[: len(data) // 2])
    with pytest.raises(RunDirError, match="unreadable checkpoint") as info:
        run.read_checkpoint()
    assert "\n" not in str(info.value)
    torch.save({"counters": {}}, tmp_path / "r" / CHECKPOINT)
    with pytest.raises(RunDirError, match="no line count per log"):
        run.read_checkpoint()
    run.close()


def test_resume_reads_what_lies_beyond_the_checkpoint_then_cuts_it(tmp_path):
    run = new_run(tmp_path / "r")
    first, second, third = evals([0, 8, 16])
    run.append(first)
    run.append(UpdateRecord(0, 8, 0.0, 8, 1))
    run.save_checkpoint({"counters": {}})
    run.append(second)
    run.append(third)
    run.close()
    with open(tmp_path / "r" / UPDATES, "ab") as f:
        f.write(b'{"step":1,"sam')  # torn by a crash
    run = RunDir.open(tmp_path / "r")
    checkpoint = run.read_checkpoint()
    assert checkpoint.log_lines[EVALS] == 1 and checkpoint.last[EVALS] == first.to_json()
    assert checkpoint.beyond[EVALS] == [second.to_json(), third.to_json()]
    assert checkpoint.beyond[UPDATES] == [] and checkpoint.last[EPISODES] is None
    run.rewind(checkpoint)
    run.append(second)
    run.close()
    assert read_evals(tmp_path / "r") == [first, second]
    assert len(read_log(tmp_path / "r" / UPDATES)) == 1


def test_a_log_shorter_than_its_checkpoint_is_refused(tmp_path):
    run = new_run(tmp_path / "r")
    for point in evals([0, 8]):
        run.append(point)
    run.save_checkpoint({"counters": {}})
    run.close()
    lines = (tmp_path / "r" / EVALS).read_bytes().splitlines(keepends=True)
    (tmp_path / "r" / EVALS).write_bytes(lines[0])
    run = RunDir.open(tmp_path / "r")
    with pytest.raises(RunDirError, match="evals.jsonl holds 1 complete lines but the checkpoint"):
        run.read_checkpoint()
    run.close()


def test_create_empties_logs_of_a_start_that_never_wrote_its_config(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / EPISODES).write_bytes(encode_line({"sample": 0}))
    RunDir.create(tmp_path / "r").close()
    assert (tmp_path / "r" / EPISODES).read_bytes() == b""
