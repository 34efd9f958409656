"""Each hazard of model-written code is contained, reported, and leaves the host unharmed.

The behaviour every level shares runs at the process level and, where this machine has it, at
real isolation too. The in-process audit hook is tested here on its own (its payloads only aim
at pytest's temporary directories); the hostile-code tests, which need real isolation, are in
test_sandbox_hostile.py.
"""

import ast
import os
import re
import time
import uuid

import pytest

import envs.sandbox as sandbox
from envs.sandbox import Isolation, Limits, SandboxUnavailable, run_python, seccomp

FAST = Limits(wall_s=2.0, cpu_s=1, memory_mb=256, output_bytes=10_000)
BEST = sandbox.isolation_level()
LEVELS = [Isolation.PROCESS] + ([BEST] if BEST.real else [])
ids = [level.value for level in LEVELS]


@pytest.fixture(params=LEVELS, ids=ids)
def level(request) -> Isolation:
    return request.param


def run(level: Isolation, code: str, limits: Limits = FAST, **files: str):
    return run_python(code, files, limits, isolation=level)


def test_plain_program_runs_and_sees_its_files(level):
    res = run(
        level,
        "import json, math\nprint(json.load(open('d.json'))['a'] + math.floor(2.5))",
        **{"d.json": '{"a": 40}'},
    )
    assert res.ok and res.stdout.strip() == "42" and res.problem(FAST) == ""
    assert res.isolation is level


def test_stdin_reaches_the_program(level):
    res = run_python("import sys\nprint(sys.stdin.read()[::-1])", stdin=b"abc", isolation=level)
    assert res.ok and res.stdout.strip() == "cba"


def test_infinite_loop_is_killed_by_the_cpu_limit(level):
    start = time.monotonic()
    res = run(level, "while True:\n    pass")
    assert not res.ok and res.returncode is not None and res.returncode < 0
    assert "CPU limit" in res.problem(FAST) or "time-out" in res.problem(FAST)
    assert time.monotonic() - start < 4


def test_sleeping_program_is_killed_by_the_wall_clock_and_leaves_no_process(level):
    # A memory limit no other run uses marks this run's interpreter in the host's process list.
    marked = Limits(wall_s=1.0, cpu_s=1, memory_mb=300 + uuid.uuid4().int % 200)
    res = run(level, "import time\ntime.sleep(30)", marked)
    assert res.timed_out and "time-out" in res.problem(marked)
    assert res.wall_s < 3
    assert not _processes_with(f'"mem": {marked.memory_mb << 20}')


def test_fork_bomb_is_refused(level):
    res = run(level, "import os\nwhile True:\n    os.fork()")
    assert res.returncode == 1 and "PermissionError: sandbox: os.fork is not allowed" in res.stderr


def test_subprocess_and_os_system_are_refused(level, tmp_path):
    marker = tmp_path / "pwned"
    res = run(level, f"import os\nos.system('touch {marker}')")
    assert "os.system is not allowed" in res.stderr and not marker.exists()
    res = run(level, "import subprocess")
    assert "importing subprocess is not allowed" in res.stderr


def test_huge_allocation_raises_memory_error(level):
    res = run(level, "x = bytearray(10 * 1024**3)")
    assert res.returncode == 1 and "MemoryError" in res.stderr


def test_writing_outside_the_work_dir_is_refused(level, tmp_path):
    target = tmp_path / "escape.txt"
    res = run(level, f"open({str(target)!r}, 'w').write('x')")
    assert "cannot open" in res.stderr and "for writing outside" in res.stderr
    assert not target.exists()
    res = run(level, "open('inside.txt', 'w').write('ok')\nprint(open('inside.txt').read())")
    assert res.ok and res.stdout.strip() == "ok"


def test_reading_host_files_is_refused(level):
    res = run(level, "print(open('/etc/hostname').read())")
    assert "for reading outside the working directory" in res.stderr and res.stdout == ""


def test_sockets_are_refused(level):
    res = run(level, "import socket\nsocket.create_connection(('127.0.0.1', 9))")
    assert "PermissionError: sandbox" in res.stderr and "socket" in res.stderr
    res = run(level, "__import__('_socket')")
    assert "importing _socket is not allowed" in res.stderr


def test_host_environment_variables_are_not_visible(level, monkeypatch):
    monkeypatch.setenv("RESD_HOST_SECRET", "hunter2")
    res = run(level, "import os\nprint(sorted(os.environ.items()))")
    assert res.ok and "hunter2" not in res.stdout and "RESD_HOST_SECRET" not in res.stdout


def test_printing_100_mb_is_cut_at_the_cap(level):
    res = run(level, "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 1_000_000)")
    assert res.output_truncated and "output limit" in res.problem(FAST)
    assert len(res.stdout) <= FAST.output_bytes


def test_ctypes_is_refused(level):
    res = run(level, "import ctypes")
    assert "importing ctypes is not allowed" in res.stderr


def test_threads_still_work(level):
    res = run(
        level,
        "import threading\nout = []\nt = threading.Thread(target=lambda: out.append(7))\n"
        "t.start(); t.join(); print(out)",
    )
    assert res.ok and res.stdout.strip() == "[7]"


def test_process_level_work_dir_is_removed():
    res = run(Isolation.PROCESS, "import os\nprint(os.getcwd())")
    work = res.stdout.strip()
    assert work.startswith("/") and "resd-sbx-" in work and not os.path.exists(work)
    assert os.getcwd() and os.environ.get("PATH")  # host process still intact


def test_bad_file_names_are_rejected():
    for name in ("../x.py", ".hidden", "a/b.py"):
        with pytest.raises(ValueError):
            run_python("pass", {name: ""}, FAST)


# -- the audit hook, an inner layer: it must not be taken apart from Python -------------------


def test_hook_refuses_the_garbage_collectors_view_of_live_objects(level):
    res = run(level, "import gc\nprint(len(gc.get_objects()))")
    assert "sandbox: gc.get_objects is not allowed" in res.stderr and res.stdout == ""
    res = run(level, "import gc, sys\nprint(gc.get_referrers(sys))")
    assert "sandbox: gc.get_referrers is not allowed" in res.stderr


def test_patching_builtins_and_modules_does_not_disarm_the_hook(level, tmp_path):
    target = tmp_path / "escape.txt"
    res = run(
        level,
        "import builtins, os, posixpath\n"
        "for name in ('len', 'isinstance', 'any', 'type', 'str', 'PermissionError', 'OSError'):\n"
        "    setattr(builtins, name, lambda *a, **k: True)\n"
        "os.lstat = os.stat = lambda *a, **k: None\n"
        "posixpath.realpath = posixpath.abspath = lambda p: '/nowhere'\n"
        f"open({str(target)!r}, 'w').write('x')\n",
    )
    assert "PermissionError: sandbox: cannot open" in res.stderr and not target.exists()


def test_the_hooks_frame_gives_nothing_to_change(level, tmp_path):
    """A refusal's traceback reaches the hook's frame; its values are immutable or built in."""
    target = tmp_path / "escape.txt"
    res = run(
        level,
        "import os\n"
        "try:\n    os.system('true')\nexcept PermissionError as e:\n    tb = e.__traceback__\n"
        "while tb.tb_next:\n    tb = tb.tb_next\n"
        "kinds = sorted({type(v).__name__ for v in tb.tb_frame.f_locals.values()})\n"
        "print(kinds)\n"
        f"open({str(target)!r}, 'w')\n",
    )
    kinds = set(ast.literal_eval(res.stdout.splitlines()[0]))
    immutable = {"frozenset", "tuple", "str", "int", "NoneType", "type"}
    assert kinds <= immutable | {"builtin_function_or_method", "method_descriptor"}
    assert "cannot open" in res.stderr and not target.exists()


def test_a_path_object_cannot_change_its_answer_between_check_and_open(level, tmp_path):
    """The call converts the path first, the hook second: a flip would pass a checked name."""
    target = tmp_path / "flipped"
    flip = (
        "class Flip:\n    calls = 0\n    def __fspath__(self):\n        Flip.calls += 1\n"
        f"        return {str(target)!r} if Flip.calls == 1 else 'inside'\n"
    )
    uses = (
        "open(Flip(), 'w').write('x')",
        "import os\nos.open(Flip(), os.O_WRONLY | os.O_CREAT)",
        "import os\nos.mkdir(Flip())",
    )
    for use in uses:
        res = run(level, flip + use)
        # Refused either as a path object or under the path the call really used.
        assert "file paths must be str or bytes" in res.stderr or (
            repr(str(target)) in res.stderr and "outside the working directory" in res.stderr
        ), res.stderr[-300:]
        assert not target.exists()


def test_file_apis_below_the_audit_events_are_refused(level, tmp_path):
    outside = str(tmp_path)
    cases = {
        "import sqlite3": "importing sqlite3 is not allowed",
        "import _sqlite3": "importing _sqlite3 is not allowed",
        "import dbm": "importing dbm is not allowed",
        "import readline": "importing readline is not allowed",
        "import os\nos.setxattr('main.py', 'user.x', b'1')": "os.setxattr is not allowed",
        f"import os\nos.mkfifo({outside + '/fifo'!r})": "os.mkfifo is not allowed",
        f"import os\nos.mknod({outside + '/null'!r}, 0o20666, os.makedev(1, 3))": "os.mknod is",
        f"import os\nd = os.open({outside!r}, 0)\nos.mkdir('f', dir_fd=d)": "cannot open",
        "import os\nd = os.open('/usr', 0)\nos.mkdir('f', dir_fd=d)": "cannot open '/usr'",
        "import os\nos.pidfd_open(os.getppid())": "os.pidfd_open is not allowed",
        "import os\nos.nice(-5)": "os.nice is not allowed",
        "import os\nos.chmod(os.open('main.py', 0), 0o777)": "os.chmod on a file descriptor",
        "import _testcapi": "importing _testcapi is not allowed",
        "(lambda: 0).__code__.replace(co_consts=(1,))": "code.__new__ is not allowed",
    }
    for code, refusal in cases.items():
        res = run(level, code)
        assert f"PermissionError: sandbox: {refusal}" in res.stderr or (
            refusal.startswith("importing") and "No module named" in res.stderr
        ), (code, res.stderr[-300:])
    assert os.listdir(tmp_path) == []


def test_native_code_from_the_work_dir_is_refused(level):
    res = run(
        level,
        "import importlib.util as u\nopen('x.so', 'wb').write(b'\\x7fELF')\n"
        "u.module_from_spec(u.spec_from_file_location('x', 'x.so'))",
    )
    assert "sandbox: loading native code from" in res.stderr


# -- levels, the refusal, and the seccomp filter ----------------------------------------------


def test_the_level_is_reported_and_only_namespaces_count_as_real():
    assert not Isolation.PROCESS.real and Isolation.BWRAP.real and Isolation.BWRAP_SECCOMP.real
    assert run_python("pass", limits=FAST).isolation is BEST
    assert (sandbox.isolation_shortfall() == "") == BEST.real


def test_refusal_without_real_isolation_names_the_fix_and_the_switch(monkeypatch):
    monkeypatch.setattr(sandbox, "_probe", lambda: (Isolation.PROCESS, "bwrap is not installed"))
    monkeypatch.delenv(sandbox.UNSAFE_ENV_VAR, raising=False)
    with pytest.raises(SandboxUnavailable) as err:
        sandbox.require_isolation("The test env")
    message = str(err.value)
    assert "\n" not in message and "bwrap is not installed" in message
    assert "apt-get install bubblewrap" in message and "RESD_UNSAFE_SANDBOX=1" in message
    monkeypatch.setenv(sandbox.UNSAFE_ENV_VAR, "1")
    assert sandbox.require_isolation("The test env") is Isolation.PROCESS


def test_leaving_the_hook_out_needs_real_isolation():
    with pytest.raises(ValueError, match="needs real isolation"):
        run_python("pass", isolation=Isolation.PROCESS, audit_hook=False)


def test_seccomp_program_is_well_formed():
    if not seccomp.supported():
        pytest.skip("the seccomp filter covers x86_64 only")
    prog = seccomp.filter_program()
    assert len(prog) % 8 == 0 and 20 < len(prog) // 8 < 4096


def test_seccomp_numbers_match_the_kernel_headers():
    header = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
    if not os.path.exists(header):
        pytest.skip(f"{header} is not installed (Debian package linux-libc-dev)")
    text = open(header, encoding="utf-8").read()
    numbers = {m[1]: int(m[2]) for m in re.finditer(r"#define __NR_(\w+) (\d+)", text)}
    expected = {
        **seccomp.DENIED_X86_64,
        "clone": seccomp.CLONE_X86_64,
        "clone3": seccomp.CLONE3_X86_64,
    }
    wrong = {name: nr for name, nr in expected.items() if name in numbers and numbers[name] != nr}
    assert not wrong
    assert len([n for n in expected if n in numbers]) >= len(expected) - 3  # old ones may go


def _processes_with(marker: str) -> list[int]:
    """Host pids whose command line holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found
