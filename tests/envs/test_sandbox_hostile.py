"""Hostile model code, run under real isolation: every attack fails and the host is checked.

One test per class of attack from issue 15 (taking the audit hook apart and then running shell
commands; file APIs below the audit events; a path object that changes its answer; signals to
the parent and other host processes; filling the disk; reading host secrets; the network; fork
bombs). Each runs twice: with the audit hook, and without it (as if it had been taken apart),
to show that the namespaces and seccomp hold on their own. Afterwards the host is checked: no
sentinel file exists, the runner (this process) and a bystander process are alive and running.

These tests need bubblewrap. Without it they skip, saying so; set RESD_REQUIRE_SANDBOX=1 (as CI
may) to make a missing sandbox a failure instead.
"""

from __future__ import annotations

import ast
import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from envs.sandbox import Isolation, Limits, isolation_level, isolation_shortfall, run_python

LEVEL = isolation_level()
REQUIRED = os.environ.get("RESD_REQUIRE_SANDBOX") == "1"
pytestmark = pytest.mark.skipif(
    not LEVEL.real and not REQUIRED,
    reason=f"real isolation unavailable ({isolation_shortfall()}); install bubblewrap "
    "(scripts/setup.sh does) to run the hostile-code tests",
)
LIMITS = Limits(wall_s=5.0, cpu_s=3, memory_mb=256, output_bytes=20_000)
REPO = Path(__file__).resolve().parents[2]
RUNNING = ("R", "S", "D")  # states of /proc/PID/stat for a live process that is not stopped


@pytest.fixture(params=[True, False], ids=["hook", "no-hook"])
def audit_hook(request) -> bool:
    if not LEVEL.real:
        pytest.fail(
            f"RESD_REQUIRE_SANDBOX=1 but real isolation is unavailable: {isolation_shortfall()}"
        )
    return request.param


@dataclass
class Host:
    """What the attacks aim at on the host, and the checks that nothing happened to it."""

    hidden: Path  # a sentinel path in a host directory the sandbox cannot see
    visible: Path  # a sentinel path in a host directory the sandbox sees read-only
    bystander: subprocess.Popen  # a host process the attacks try to signal

    def paths(self) -> str:
        return f"{str(self.hidden)!r}, {str(self.visible)!r}"

    def assert_unharmed(self) -> None:
        assert not self.hidden.exists() and not self.visible.exists(), "a sentinel was written"
        assert self.bystander.poll() is None, "the bystander process was killed"
        assert _state(self.bystander.pid) in RUNNING, "the bystander process was stopped"
        assert _state(os.getpid()) in RUNNING, "the runner was stopped"


@pytest.fixture
def host(tmp_path) -> Iterator[Host]:
    tag = uuid.uuid4().hex[:12]
    visible_dir = Path(sys.base_prefix).resolve()  # the sandbox binds the Python installation
    watch = Host(
        hidden=tmp_path / f"pwned-{tag}",
        visible=visible_dir / f"resd-pwned-{tag}",
        bystander=subprocess.Popen(["sleep", "60"]),
    )
    try:
        yield watch
        watch.assert_unharmed()
    finally:
        watch.bystander.kill()
        watch.bystander.wait()
        for path in (watch.hidden, watch.visible):
            with contextlib.suppress(OSError):
                path.unlink()


def attack(code: str, audit_hook: bool, limits: Limits = LIMITS):
    res = run_python(code, limits=limits, audit_hook=audit_hook)
    assert res.isolation is LEVEL and res.isolation.real
    return res


def test_hook_taken_apart_then_shell_commands(host, audit_hook):
    res = attack(
        "import builtins, os, sys\n"
        "try:\n"  # take the hook apart from Python, every way we know
        "    for name in ('len', 'isinstance', 'PermissionError', 'OSError'):\n"
        "        setattr(builtins, name, lambda *a, **k: True)\n"
        "    try:\n        os.system('true')\n    except BaseException as e:\n"
        "        tb = e.__traceback__\n"
        "        while tb:\n"
        "            for value in list(tb.tb_frame.f_locals.values()):\n"
        "                for cell in getattr(value, '__closure__', None) or ():\n"
        "                    cell.cell_contents = frozenset()\n"
        "            tb = tb.tb_next\n"
        "    import gc\n"
        "    for obj in gc.get_objects():\n"
        "        if getattr(obj, '__name__', '') == 'hook':\n"
        "            for cell in obj.__closure__:\n"
        "                cell.cell_contents = frozenset()\n"
        "except BaseException as e:\n    print('disarm:', repr(e))\n"
        f"hidden, visible = {host.paths()}\n"
        "try:\n    print('system:', os.system(f'touch {hidden} {visible}'))\n"
        "except BaseException as e:\n    print('system:', repr(e))\n"
        "print('uid', os.getuid(), flush=True)\n"  # then the shell, writing with no fork
        "script = f'echo shell-ran; echo > {hidden}; echo > {visible}; echo shell-done'\n"
        "os.execv('/bin/sh', ['sh', '-c', script])\n",
        audit_hook,
    )
    if audit_hook:
        assert "sandbox: os.exec is not allowed" in res.stderr
    else:  # the shell really ran, as nobody, and could not write to the host
        assert "uid 65534" in res.stdout and "shell-done" in res.stdout, res.stdout + res.stderr
        assert "Directory nonexistent" in res.stderr and "Read-only file system" in res.stderr
    host.assert_unharmed()


def test_file_apis_below_the_audit_events(host, audit_hook):
    target = Path(os.path.realpath(sys.executable))  # a host file the sandbox sees read-only
    res = attack(
        "import os, stat\n"
        f"hidden, visible = {host.paths()}\n"
        "def attempt(what, fn):\n"
        "    try:\n        fn()\n        print(what, 'done')\n"
        "    except BaseException as e:\n        print(what, 'failed:', type(e).__name__, e)\n"
        "def sqlite(path):\n"
        "    import sqlite3\n"
        "    db = sqlite3.connect(':memory:')\n"
        "    db.execute(f\"ATTACH DATABASE '{path}' AS x\")\n"
        "    db.execute('CREATE TABLE x.t (a)')\n"
        "    sqlite3.connect(path).execute('CREATE TABLE t (a)')\n"
        "for path in (hidden, visible):\n"
        "    attempt('sqlite', lambda: sqlite(path))\n"
        "    attempt('fifo', lambda: os.mkfifo(path))\n"
        "    attempt('device', lambda: os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3)))\n"
        f"attempt('xattr', lambda: os.setxattr({str(target)!r}, 'user.resd_pwned', b'1'))\n"
        "attempt('device in work dir', lambda: os.mknod('mem', stat.S_IFCHR | 0o666, "
        "os.makedev(1, 1)))\n"
        "attempt('open device', lambda: open('mem', 'rb').read(16))\n",
        audit_hook,
    )
    assert " done" not in res.stdout and res.stdout.count("failed:") == 9, res.stdout
    with contextlib.suppress(OSError):
        assert "user.resd_pwned" not in os.listxattr(target)
    host.assert_unharmed()


def test_path_object_that_changes_between_check_and_open(host, audit_hook):
    res = attack(
        "import os\n"
        f"hidden, visible = {host.paths()}\n"
        "class Flip:\n"  # the call converts first (odd calls), the check second (even calls)
        "    def __init__(self, outside):\n        self.outside, self.calls = outside, 0\n"
        "    def __fspath__(self):\n        self.calls += 1\n"
        "        return self.outside if self.calls % 2 else 'inside'\n"
        "for outside in (hidden, visible):\n"
        "    for use in (lambda: open(Flip(outside), 'w').write('x'),\n"
        "                lambda: os.open(Flip(outside), os.O_WRONLY | os.O_CREAT),\n"
        "                lambda: os.mkdir(Flip(outside))):\n"
        "        try:\n            use()\n            print('written')\n"
        "        except BaseException as e:\n            print('refused:', type(e).__name__)\n"
        "print(sorted(os.listdir('.')))\n",
        audit_hook,
    )
    assert "written" not in res.stdout and res.stdout.count("refused") == 6, res.stdout
    host.assert_unharmed()


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGSTOP"])
def test_signals_to_the_parent_and_host_processes(host, audit_hook, sig):
    res = attack(
        "import os, signal\n"
        f"sig = signal.{sig}\n"
        f"pids = [os.getppid(), 1, {os.getpid()}, {host.bystander.pid}]\n"
        "for pid in pids:\n"
        "    for how in ('kill', 'pidfd', 'killpg'):\n"
        "        try:\n"
        "            if how == 'kill':\n                os.kill(pid, sig)\n"
        "            elif how == 'pidfd':\n"
        "                signal.pidfd_send_signal(os.pidfd_open(pid), sig)\n"
        "            else:\n                os.killpg(pid, sig)\n"
        "            print(how, pid, 'sent')\n"
        "        except BaseException as e:\n            print(how, pid, type(e).__name__)\n"
        "try:\n    os.kill(-1, sig)\nexcept BaseException as e:\n    print('kill -1', e)\n",
        audit_hook,
    )
    # Inside, only the sandbox's own PID 1 (bwrap's reaper) exists to be "sent" a signal.
    for line in res.stdout.splitlines():
        if line.endswith("sent"):
            assert line.split()[1] in ("0", "1"), res.stdout
    host.assert_unharmed()


def test_filling_the_disk_stops_at_the_total_cap(host, audit_hook):
    capped = Limits(wall_s=5.0, cpu_s=3, memory_mb=256, file_mb=4, disk_mb=8)
    res = attack(
        "written = 0\n"
        "try:\n"
        "    for i in range(400):\n"  # 100 MB in 256 KB files, each well under the file cap
        "        with open(f'f{i}', 'wb') as f:\n            f.write(b'x' * 262144)\n"
        "        written += 1\n"
        "except OSError as e:\n    print('stopped:', e.errno)\n"
        "print('written', written)\n",
        audit_hook,
        capped,
    )
    written = int(res.stdout.split("written ")[1].split()[0])
    assert "stopped: 28" in res.stdout  # ENOSPC
    assert written * 262144 <= capped.disk_mb << 20
    host.assert_unharmed()


def test_host_secrets_and_environment_stay_hidden(host, audit_hook, monkeypatch, tmp_path):
    token = uuid.uuid4().hex
    monkeypatch.setenv("RESD_HOST_SECRET", f"env-{token}")
    secret = tmp_path / "secret.txt"
    secret.write_text(f"file-{token}")
    paths = [str(secret), "/etc/shadow", "/etc/passwd", "/root/.bash_history", "/proc/1/environ"]
    paths.append(str(REPO / "README.md"))
    res = attack(
        "import os\n"
        "print(dict(os.environ))\n"
        f"for path in {paths!r}:\n"
        "    try:\n        print(open(path).read())\n"
        "    except BaseException as e:\n        print(path, type(e).__name__)\n"
        f"print('repo visible:', os.path.exists({str(REPO)!r}))\n"
        "print('root:', sorted(os.listdir('/')))\n",
        audit_hook,
    )
    seen = res.stdout + res.stderr
    assert token not in seen and "RESD_HOST_SECRET" not in seen
    if not audit_hook:  # nothing but the system, the interpreter and the work dir is mounted
        assert "repo visible: False" in seen
        python_tops = {Path(p).resolve().parts[1] for p in (sys.base_prefix, sys.executable)}
        expected = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "dev", "etc"}
        root = set(ast.literal_eval(seen.split("root: ")[1].splitlines()[0]))
        assert root <= expected | {"sandbox"} | python_tops, root
    host.assert_unharmed()


def test_network_cannot_reach_the_host(host, audit_hook):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        res = attack(
            "try:\n"
            "    import socket\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=1)\n"
            "    print('connected')\n"
            "except BaseException as e:\n    print('refused:', type(e).__name__, e)\n",
            audit_hook,
        )
        assert "connected" not in res.stdout and "refused" in res.stdout
        with pytest.raises(BlockingIOError):
            server.accept()
    host.assert_unharmed()


def test_fork_bomb_is_stopped(host, audit_hook):
    if LEVEL is not Isolation.BWRAP_SECCOMP and not audit_hook:
        pytest.skip("without seccomp only the wall clock would stop a fork bomb")
    res = attack(
        "import os\nn = 0\n"
        "try:\n    while n < 100000:\n        os.fork()\n        n += 1\n"
        "except BaseException as e:\n    print('stopped after', n, type(e).__name__)\n",
        audit_hook,
    )
    assert "stopped after 0 PermissionError" in res.stdout, res.stdout + res.stderr
    host.assert_unharmed()


def _state(pid: int) -> str:
    """The one-letter state of a host process ("" when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""
