"""Progress off a terminal: plain lines with samples, success, tokens/s and an ETA."""

from __future__ import annotations

import io

from benchmarks.progress import Progress, duration


def test_plain_lines_when_output_is_not_a_terminal(capsys):
    stream = io.StringIO()
    progress = Progress(total=64, initial=16, desc="wordle/sd", stream=stream, every=0.0)
    assert not progress.live  # a StringIO is not a terminal
    progress.update(16, success=0.25, tokens_per_second=1234.4)
    progress.update(32, success=0.5, tokens_per_second=900.0)
    progress.write("eval at 64 samples: ...")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[wordle/sd] 32/64 samples (50%), train success 0.25, 1234 tok/s")
    assert "ETA " in lines[0] and lines[1].endswith("ETA 0s")
    assert capsys.readouterr().out == "eval at 64 samples: ...\n"  # results on stdout


def test_lines_are_spaced_out():
    stream = io.StringIO()
    progress = Progress(total=100, initial=0, desc="x", stream=stream, every=3600.0)
    for _ in range(9):
        progress.update(10, success=0.0, tokens_per_second=1.0)
    assert stream.getvalue() == ""  # within the hour: nothing yet
    progress.update(10, success=0.0, tokens_per_second=1.0)
    assert stream.getvalue().startswith("[x] 100/100 samples")  # the last step always shows
    progress.close()


def test_a_long_step_is_not_silent():
    import time

    stream = io.StringIO()
    progress = Progress(total=10, initial=0, desc="tape/sd", stream=stream, every=0.1)
    progress.phase = "learning"
    time.sleep(0.45)  # one step that takes several heartbeats
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2, lines
    assert all(line.startswith("[tape/sd] 0/10 samples (0%)") for line in lines)
    assert lines[-1].endswith("ETA ? (learning)")
    time.sleep(0.3)
    assert stream.getvalue().splitlines() == lines  # closed: the timer stopped


def test_duration():
    assert [duration(s) for s in (0, 45, 185, 3720)] == ["0s", "45s", "3m05s", "1h02m"]


def test_a_slow_step_is_announced_and_a_quick_one_is_not(capsys):
    import time

    from benchmarks.run import announced

    with announced("loading model x", "built once", after=0.05):
        time.sleep(0.3)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "loading model x: built once ..." and err[1].startswith(
        "loading model x: done"
    )
    with announced("loading model y", "built once", after=5.0):
        pass
    assert capsys.readouterr().err == ""
