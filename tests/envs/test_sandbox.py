"""Each hazard of model-written code is contained, reported, and leaves the host unharmed."""

import os
import time

import pytest

from envs.sandbox import Limits, run_python

FAST = Limits(wall_s=2.0, cpu_s=1, memory_mb=256, output_bytes=10_000)


def run(code: str, **files: str):
    return run_python(code, files, FAST)


def test_plain_program_runs_and_sees_its_files():
    res = run(
        "import json, math\nprint(json.load(open('d.json'))['a'] + math.floor(2.5))",
        **{"d.json": '{"a": 40}'},
    )
    assert res.ok and res.stdout.strip() == "42" and res.problem(FAST) == ""


def test_infinite_loop_is_killed_by_the_cpu_limit():
    start = time.monotonic()
    res = run("while True:\n    pass")
    assert not res.ok and res.returncode is not None and res.returncode < 0
    assert "CPU limit" in res.problem(FAST) or "time-out" in res.problem(FAST)
    assert time.monotonic() - start < 4


def test_sleeping_program_is_killed_by_the_wall_clock():
    res = run("import time\ntime.sleep(30)")
    assert res.timed_out and "time-out" in res.problem(FAST)
    assert res.wall_s < 4


def test_fork_bomb_is_refused():
    res = run("import os\nwhile True:\n    os.fork()")
    assert res.returncode == 1 and "PermissionError: sandbox: os.fork is not allowed" in res.stderr


def test_subprocess_and_os_system_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    res = run(f"import os\nos.system('touch {marker}')")
    assert "os.system is not allowed" in res.stderr and not marker.exists()
    res = run("import subprocess")
    assert "importing subprocess is not allowed" in res.stderr


def test_huge_allocation_raises_memory_error():
    res = run("x = bytearray(10 * 1024**3)")
    assert res.returncode == 1 and "MemoryError" in res.stderr


def test_writing_outside_the_work_dir_is_refused(tmp_path):
    target = tmp_path / "escape.txt"
    res = run(f"open({str(target)!r}, 'w').write('x')")
    assert "cannot open" in res.stderr and "for writing outside" in res.stderr
    assert not target.exists()
    res = run("open('inside.txt', 'w').write('ok')\nprint(open('inside.txt').read())")
    assert res.ok and res.stdout.strip() == "ok"


def test_reading_host_files_is_refused():
    res = run("print(open('/etc/hostname').read())")
    assert "for reading outside the working directory" in res.stderr and res.stdout == ""


def test_sockets_are_refused():
    res = run("import socket\nsocket.create_connection(('127.0.0.1', 9))")
    assert "PermissionError: sandbox" in res.stderr and "socket" in res.stderr
    res = run("__import__('_socket')")
    assert "importing _socket is not allowed" in res.stderr


def test_host_environment_variables_are_not_visible(monkeypatch):
    monkeypatch.setenv("RESD_HOST_SECRET", "hunter2")
    res = run("import os\nprint(sorted(os.environ.items()))")
    assert res.ok and "hunter2" not in res.stdout and "RESD_HOST_SECRET" not in res.stdout


def test_printing_100_mb_is_cut_at_the_cap():
    res = run("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 1_000_000)")
    assert res.output_truncated and "output limit" in res.problem(FAST)
    assert len(res.stdout) <= FAST.output_bytes


def test_ctypes_is_refused():
    res = run("import ctypes")
    assert "importing ctypes is not allowed" in res.stderr


def test_work_dir_is_removed_and_host_unharmed():
    res = run("import os\nprint(os.getcwd())")
    work = res.stdout.strip()
    assert work and not os.path.exists(work)
    assert os.getcwd() and os.environ.get("PATH")  # host process still intact


def test_bad_file_names_are_rejected():
    with pytest.raises(ValueError):
        run_python("pass", {"../x.py": ""}, FAST)
