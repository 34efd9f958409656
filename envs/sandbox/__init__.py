"""Run model-written Python in isolation, and say how strong that isolation was.

Every environment that executes code an agent wrote goes through ``run_python``. Each result
carries its ``Isolation`` level; ``isolation_level()`` says which level this machine gives.

Isolation levels, strongest first:

* ``bwrap+seccomp`` / ``bwrap`` (real isolation; needs bubblewrap: ``apt-get install
  bubblewrap``). The program runs under ``bwrap`` (``envs.sandbox.bwrap``) as uid 65534 with no
  capabilities, in its own user, PID, mount, network, IPC and UTS namespaces; it sees a read-only
  root holding only ``/usr`` and the Python installation (no home directories, no ``/etc``, no
  ``/tmp``, no ``/proc``), and writes only to a private tmpfs work directory whose total size is
  capped (``Limits.disk_mb``). It cannot see, let alone signal, any host process, has no network,
  cannot read host files or the host's environment, and leaves nothing behind: the tmpfs goes
  with it. On x86_64 a seccomp filter (``envs.sandbox.seccomp``) also denies new processes
  (threads stay allowed), pidfds, ptrace, mounts, namespaces, device nodes, extended attributes
  and other kernel surface.
* ``process`` (unsafe: for trusted code or a machine without bubblewrap). The program runs as
  the host's user in a separate process with only the inner layers below. Environments that run
  model code refuse this level unless ``RESD_UNSAFE_SANDBOX=1`` is set (``require_isolation``).

Inner layers, at every level: ``python -I -S -B`` (no site-packages, no ``PYTHON*`` variables),
a minimal environment, a new session, stdin from the host (or ``/dev/null``) only; resource
limits (``RLIMIT_CPU``, ``RLIMIT_AS``, ``RLIMIT_FSIZE`` per file, ``RLIMIT_NOFILE``,
``RLIMIT_NPROC``), a wall-clock time-out after which the host kills the process group, an output
cap enforced by the host; and an audit hook (``envs.sandbox.guard``) that refuses shell calls,
processes, signals, sockets, ctypes, file access outside the work directory and a few more, with
a ``PermissionError`` the caller reports as feedback.

Threat model. Model code is hostile. At the ``bwrap`` levels the boundary is the kernel's
namespaces (plus seccomp): a program that takes the audit hook apart gains nothing, and what
remains is the kernel's own attack surface and the CPU, memory and disk caps (time, memory and
disk it can use up to its limits; a tmpfs counts against host memory). At the ``process`` level
the audit hook is the only barrier, and it runs inside the attacked interpreter: it is built to
resist being taken apart from Python, but interpreter bugs and C-level tricks can still get past
it, after which the code can do what the host's user can do. Total disk use is not capped there.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from envs.base import EnvUnavailable
from envs.sandbox import bwrap, seccomp

UNSAFE_ENV_VAR = "RESD_UNSAFE_SANDBOX"
GUARD = (Path(__file__).with_name("guard.py")).read_text(encoding="utf-8")
_MINIMAL_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class Isolation(enum.StrEnum):
    """How strongly a run was isolated from the host (see the module docstring)."""

    BWRAP_SECCOMP = "bwrap+seccomp"
    BWRAP = "bwrap"
    PROCESS = "process"

    @property
    def real(self) -> bool:
        """Namespaces and a separate user: safe for hostile code."""
        return self is not Isolation.PROCESS


class SandboxUnavailable(EnvUnavailable):
    """Real isolation is needed and missing, and the unsafe switch is not set (the sandbox's
    case of an environment that cannot be built here)."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed run."""

    wall_s: float = 2.0
    cpu_s: int = 2
    memory_mb: int = 512
    file_mb: int = 8  # any one file
    disk_mb: int = 32  # all files together (bwrap levels: the work tmpfs's size)
    output_bytes: int = 64_000  # per stream
    nofile: int = 64
    nproc: int = 64


@dataclass(frozen=True)
class SandboxResult:
    """What a sandboxed run did. ``stdout``/``stderr`` are decoded and capped."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool  # wall-clock limit hit: the process group was killed
    output_truncated: bool  # an output cap was hit: the process group was killed
    wall_s: float
    net_isolated: bool  # the child ran in a fresh network namespace
    isolation: Isolation

    @property
    def cpu_exceeded(self) -> bool:
        return self.returncode in (-signal.SIGXCPU, -signal.SIGKILL) and not (
            self.timed_out or self.output_truncated
        )

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not (self.timed_out or self.output_truncated)

    def problem(self, limits: Limits) -> str:
        """One line naming why the run was cut short, or "" when it ended on its own."""
        if self.timed_out:
            return f"time-out: killed after {limits.wall_s:g} s of wall-clock time"
        if self.output_truncated:
            return f"output limit: killed after printing more than {limits.output_bytes} bytes"
        if self.cpu_exceeded:
            return f"CPU limit: killed after {limits.cpu_s} s of CPU time (or out of memory)"
        if self.returncode is not None and self.returncode < 0:
            return f"killed by signal {-self.returncode}"
        return ""


def isolation_level() -> Isolation:
    """The strongest level that works on this machine (probed once per process)."""
    return _probe()[0]


def isolation_shortfall() -> str:
    """Why real isolation is unavailable here, or "" when it is available."""
    level, why = _probe()
    return "" if level.real else why


def require_isolation(what: str) -> Isolation:
    """The level ``what`` will run model code at; raises unless it is real or unsafe is allowed.

    Environments that run model code call this when they are built, so a run never starts and
    then executes hostile code with only the in-process guards.
    """
    level = isolation_level()
    if level.real or os.environ.get(UNSAFE_ENV_VAR) == "1":
        return level
    raise SandboxUnavailable(
        f"{what} runs model-written code and needs real isolation, which this machine lacks "
        f"({isolation_shortfall()}): install it with `apt-get install bubblewrap`, or set "
        f"{UNSAFE_ENV_VAR}=1 to run it with in-process guards only (unsafe for hostile code)"
    )


@functools.cache
def _probe() -> tuple[Isolation, str]:
    if not sys.platform.startswith("linux"):
        return Isolation.PROCESS, "bubblewrap needs Linux"
    if shutil.which("bwrap") is None:
        return Isolation.PROCESS, "bubblewrap (bwrap) is not installed"
    why = ""
    for level in (Isolation.BWRAP_SECCOMP, Isolation.BWRAP):
        if level is Isolation.BWRAP_SECCOMP and not seccomp.supported():
            continue
        result = run_python("print(6 * 7)", limits=Limits(wall_s=10.0), isolation=level)
        if result.ok and result.stdout.strip() == "42":
            return level, ""
        why = (result.stderr.strip().splitlines() or ["no output"])[-1][:200]
    return Isolation.PROCESS, f"bwrap cannot create a sandbox here: {why}"


def run_python(
    main: str,
    files: Mapping[str, str] | None = None,
    limits: Limits = Limits(),
    *,
    stdin: bytes = b"",
    isolation: Isolation | None = None,
    audit_hook: bool = True,
) -> SandboxResult:
    """Run the program ``main`` (as ``main.py``) with ``files`` beside it in a fresh work dir.

    ``stdin`` is what the program reads on standard input; ``isolation`` defaults to the
    strongest level available. ``audit_hook=False`` leaves the inner hook out, which only tests
    use, to show that the namespaces hold on their own; it is refused without real isolation.
    """
    level = isolation or isolation_level()
    if not audit_hook and not level.real:
        raise ValueError("running without the audit hook needs real isolation")
    named = {**(files or {}), "main.py": main}
    for name in named:
        if os.path.basename(name) != name or name.startswith(".") or "\0" in name:
            raise ValueError(f"sandbox file names must be plain names, got {name!r}")
    cfg = {
        "cpu": max(1, int(limits.cpu_s)),
        "mem": int(limits.memory_mb) << 20,
        "fsize": int(limits.file_mb) << 20,
        "nofile": int(limits.nofile),
        "nproc": int(limits.nproc),
        "try_netns": not level.real,
        "hook": audit_hook,
    }
    argv = ["-I", "-S", "-B", "-c", GUARD, json.dumps(cfg), "main.py"]
    if level.real:
        return _run_in_bwrap(named, argv, limits, stdin, level)
    return _run_in_process(named, argv, limits, stdin)


def _run_in_bwrap(
    files: Mapping[str, str], argv: list[str], limits: Limits, stdin: bytes, level: Isolation
) -> SandboxResult:
    with contextlib.ExitStack() as stack:
        fds = {
            name: stack.enter_context(_memfd(name, text.encode())) for name, text in files.items()
        }
        seccomp_fd = None
        if level is Isolation.BWRAP_SECCOMP:
            seccomp_fd = stack.enter_context(_memfd("seccomp", seccomp.filter_program()))
        info_read, info_write = os.pipe()
        stack.callback(os.close, info_read)
        python = bwrap.python_executable()
        disk = int(limits.disk_mb) << 20
        cmd = bwrap.command(python, argv, fds, disk, _MINIMAL_ENV, seccomp_fd, info_write)
        pass_fds = [*fds.values(), *([seccomp_fd] if seccomp_fd is not None else []), info_write]
        try:
            proc = _start(cmd, None, stdin, pass_fds)
        finally:
            os.close(info_write)
        return _collect(proc, None, limits, level, info_read)


def _run_in_process(
    files: Mapping[str, str], argv: list[str], limits: Limits, stdin: bytes
) -> SandboxResult:
    work = tempfile.mkdtemp(prefix="resd-sbx-")
    try:
        for name, text in files.items():
            with open(os.path.join(work, name), "w", encoding="utf-8") as f:
                f.write(text)
        proc = _start([sys.executable, *argv], work, stdin, [])
        return _collect(proc, work, limits, Isolation.PROCESS, None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _pidfd_of_child(info: bytes) -> int | None:
    """A pidfd for the "child-pid" bwrap reported (None when it reported none)."""
    try:
        pid = json.loads(info)["child-pid"]
        return os.pidfd_open(pid) if type(pid) is int and pid > 1 else None
    except (ValueError, KeyError, TypeError, OSError):
        return None


@contextlib.contextmanager
def _memfd(name: str, data: bytes) -> Iterator[int]:
    """A readable in-memory file holding ``data``, closed afterwards."""
    fd = os.memfd_create(name, 0)
    try:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
        yield fd
    finally:
        os.close(fd)


def _start(cmd: list[str], work: str | None, stdin: bytes, pass_fds: list[int]) -> subprocess.Popen:
    """Start ``cmd`` in its own session and hand it ``stdin`` (a small payload: a nonce)."""
    proc = subprocess.Popen(
        cmd,
        cwd=work,
        env=dict(_MINIMAL_ENV),
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
        pass_fds=pass_fds,
    )
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.write(stdin)
        with contextlib.suppress(OSError):
            proc.stdin.close()
    return proc


def _collect(
    proc: subprocess.Popen, work: str | None, limits: Limits, level: Isolation, info: int | None
) -> SandboxResult:
    """Read capped output until the program ends or a limit hits, then kill and reap it all.

    ``info`` is bwrap's info pipe: it names the sandbox's PID 1, which is killed first, so
    that every process inside is gone (the kernel empties a PID namespace whose init dies
    before bwrap can reap it) by the time bwrap has been waited for.
    """
    start = time.monotonic()
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}
    sizes = {"out": 0, "err": 0}
    timed_out = truncated = False
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    info_text = b""
    sandbox_init: int | None = None  # a pidfd of the sandbox's PID 1
    if info is not None:
        sel.register(info, selectors.EVENT_READ, "info")
    try:
        while sel.get_map():
            left = limits.wall_s - (time.monotonic() - start)
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(timeout=left):
                data = os.read(key.fd, 65536)
                if key.data == "info":
                    info_text += data[:4096]
                    if not data:
                        sel.unregister(key.fileobj)
                        sandbox_init = _pidfd_of_child(info_text)
                    continue
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                room = limits.output_bytes - sizes[key.data]
                chunks[key.data].append(data[: max(room, 0)])
                sizes[key.data] += len(data)
                if sizes[key.data] > limits.output_bytes:
                    truncated = True
            if truncated:
                break
        if not (timed_out or truncated):
            # Pipes closed; the process may still be running (it closed its stdio).
            try:
                proc.wait(timeout=max(0.0, limits.wall_s - (time.monotonic() - start)))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        if sandbox_init is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(sandbox_init, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
            os.close(sandbox_init)
        # Kill the whole group before reaping, so the group id cannot have been reused. Under
        # bwrap this is bwrap itself, if still there; --die-with-parent then ends the sandbox.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    wall = time.monotonic() - start
    net_isolated = level.real
    if work is not None:  # process level: the guard reports whether unshare worked
        with contextlib.suppress(OSError), open(os.path.join(work, ".sandbox_status")) as f:
            net_isolated = f.read(64) == "net=1"

    returncode = proc.returncode
    if level.real and returncode is not None and 128 < returncode <= 128 + 64:
        returncode = 128 - returncode  # bwrap reports "killed by signal N" as exit code 128 + N

    def text(name: str) -> str:
        return b"".join(chunks[name]).decode("utf-8", errors="replace")

    return SandboxResult(
        returncode=returncode,
        stdout=text("out"),
        stderr=text("err"),
        timed_out=timed_out,
        output_truncated=truncated,
        wall_s=wall,
        net_isolated=net_isolated,
        isolation=level,
    )
