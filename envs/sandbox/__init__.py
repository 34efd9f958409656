"""Run model-written Python in a separate, resource-limited process.

Every environment that executes code an agent wrote goes through ``run_python``. The program
runs as ``python -I -S -B`` (no site-packages, no ``PYTHON*`` variables, no user site) in a new
session, inside an empty temporary directory that is deleted afterwards, with a minimal
environment (the host's variables are not passed on) and stdin from ``/dev/null``.

Threat model. What is contained, and how:

* CPU: ``RLIMIT_CPU`` (the kernel sends SIGXCPU/SIGKILL) and a wall-clock time-out after which
  the host kills the whole process group (``start_new_session``), so sleeping or blocked code
  and any stray children die too.
* Memory: ``RLIMIT_AS``; a huge allocation raises ``MemoryError`` inside the child.
* Disk: ``RLIMIT_FSIZE`` caps any one file; writes are only allowed under the work directory.
* Output: the host reads stdout/stderr with a byte cap and kills the child when it is exceeded,
  so printing 100 MB never reaches host memory.
* Processes, network, files, host: before user code runs, a bootstrap sets the limits, tries to
  move the process into a fresh network namespace (``unshare(CLONE_NEWNET)``, which needs root or
  unprivileged user namespaces; ``SandboxResult.net_isolated`` says whether it worked), and
  installs a ``sys.addaudithook`` hook that refuses: socket creation and name lookups,
  ``os.system``, ``subprocess``, ``fork``/``exec``/``spawn``, ``ctypes``, signals to other
  processes, raising resource limits, symlinks, ``chdir``, opening files for writing outside the
  work directory, and reading outside the work directory and the standard library. A refused
  operation raises ``PermissionError`` in the user code, which the caller reports as feedback.
  ``RLIMIT_NPROC`` and ``RLIMIT_NOFILE`` are set as a second line (the kernel ignores NPROC for
  root).

What is NOT contained: an audit hook runs in the same interpreter as the user code, so it is not a
security boundary against a determined attacker (C-level tricks, interpreter bugs, or mutating
interpreter state can get around it). Without a network namespace, a bypass of the hook could
reach the network. The child runs as the same user as the host, so a bypass could read or write
what the host can. The guards are meant for accidents and for ordinary model-written code (loops,
huge allocations, stray writes, prints, shell calls); for hostile code use a container or VM.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass

# The bootstrap runs before user code: limits, network namespace, then the audit hook; then it
# executes main.py as __main__. It is passed with -c so it never lives in the work directory.
_BOOTSTRAP = r"""
import os, sys, resource
_cfg = dict(__CFG__)
for _name, _val in (("RLIMIT_CPU", _cfg["cpu"]), ("RLIMIT_AS", _cfg["mem"]),
                    ("RLIMIT_FSIZE", _cfg["fsize"]), ("RLIMIT_NOFILE", _cfg["nofile"]),
                    ("RLIMIT_NPROC", _cfg["nproc"]), ("RLIMIT_CORE", 0)):
    try:
        resource.setrlimit(getattr(resource, _name), (_val, _val))
    except (ValueError, OSError):
        pass
_net = False
try:
    import ctypes
    _libc = ctypes.CDLL(None, use_errno=True)
    _net = _libc.unshare(0x40000000) == 0 or _libc.unshare(0x10000000 | 0x40000000) == 0
    del _libc
except Exception:
    pass
for _m in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
    del sys.modules[_m]
with open(".sandbox_status", "w") as _f:
    _f.write("net=%d" % _net)

def _make_hook(work, readable, blocked_events, blocked_prefixes, blocked_modules, path_events):
    realpath, fspath, isinstance_, str_ = os.path.realpath, os.fsdecode, isinstance, str
    def _inside(path, roots):
        try:
            p = realpath(fspath(path))
        except Exception:
            return False
        return any(p == r or p.startswith(r + "/") for r in roots)
    def hook(event, args):
        if event in blocked_events or event.startswith(blocked_prefixes):
            raise PermissionError("sandbox: %s is not allowed" % event)
        if event == "import":
            if args[0].partition(".")[0] in blocked_modules:
                raise PermissionError("sandbox: importing %s is not allowed" % args[0])
        elif event == "open":
            path, mode, flags = args
            if isinstance_(path, int) or path is None:
                return
            writing = (mode is not None and any(c in str_(mode) for c in "wax+")) or (
                isinstance_(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT
                                                    | os.O_TRUNC | os.O_APPEND))
            if not _inside(path, (work,) if writing else readable):
                raise PermissionError("sandbox: cannot open %r %s outside the working directory"
                                      % (fspath(path), "for writing" if writing else "for reading"))
        elif event in path_events:
            roots = readable if event in ("os.listdir", "os.scandir") else (work,)
            paths = args[:2] if event == "os.rename" else args[:1]
            for path in paths:
                if path is not None and not isinstance_(path, int) and not _inside(path, roots):
                    raise PermissionError("sandbox: %s on %r outside the working directory"
                                          % (event, fspath(path)))
    return hook

import sysconfig
_work = os.path.realpath(os.getcwd())
_readable = tuple(sorted({_work} | {os.path.realpath(sysconfig.get_path(k))
                                     for k in ("stdlib", "platstdlib")}))
sys.addaudithook(_make_hook(
    _work, _readable,
    frozenset({"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
               "os.kill", "os.killpg", "signal.pthread_kill", "subprocess.Popen",
               "resource.setrlimit", "resource.prlimit", "os.symlink", "os.link", "os.chdir",
               "os.chroot", "os.startfile", "webbrowser.open", "pty.spawn", "sys.addaudithook",
               "os.fchdir", "os.setuid"}),
    ("socket.", "ctypes.", "_ctypes.", "winreg.", "os.add_dll"),
    frozenset({"ctypes", "_ctypes", "_posixsubprocess", "multiprocessing", "_multiprocessing",
               "socket", "_socket", "ssl", "_ssl", "subprocess", "pty", "webbrowser"}),
    frozenset({"os.remove", "os.rename", "os.mkdir", "os.rmdir", "os.chmod", "os.chown",
               "os.truncate", "os.utime", "os.listdir", "os.scandir", "shutil.rmtree",
               "shutil.copyfile", "shutil.move", "os.chflags", "os.mkfifo", "os.mknod"}),
))
del _make_hook, _cfg, _readable, _work, _net, _name, _val, _m
_main = sys.argv[1]
sys.argv = [_main]
with open(_main) as _f:
    _code = compile(_f.read(), _main, "exec")
del _f
_globals = {"__name__": "__main__", "__file__": _main, "__builtins__": __builtins__}
del _main
exec(_code, _globals)
"""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed run."""

    wall_s: float = 2.0
    cpu_s: int = 2
    memory_mb: int = 512
    file_mb: int = 8
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


_MINIMAL_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def run_python(
    main: str, files: Mapping[str, str] | None = None, limits: Limits = Limits()
) -> SandboxResult:
    """Run the program ``main`` (as ``main.py``) with ``files`` beside it in a fresh work dir."""
    work = tempfile.mkdtemp(prefix="resd-sbx-")
    try:
        for name, text in {**(files or {}), "main.py": main}.items():
            if os.path.basename(name) != name or name.startswith("."):
                raise ValueError(f"sandbox file names must be plain names, got {name!r}")
            with open(os.path.join(work, name), "w", encoding="utf-8") as f:
                f.write(text)
        cfg = {
            "cpu": max(1, int(limits.cpu_s)),
            "mem": int(limits.memory_mb) << 20,
            "fsize": int(limits.file_mb) << 20,
            "nofile": int(limits.nofile),
            "nproc": int(limits.nproc),
        }
        boot = _BOOTSTRAP.replace("__CFG__", repr(sorted(cfg.items())))
        result = _run([sys.executable, "-I", "-S", "-B", "-c", boot, "main.py"], work, limits)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(argv: list[str], work: str, limits: Limits) -> SandboxResult:
    start = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=work,
        env=dict(_MINIMAL_ENV),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}
    sizes = {"out": 0, "err": 0}
    timed_out = truncated = False
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(proc.stderr, selectors.EVENT_READ, "err")
    try:
        while sel.get_map():
            left = limits.wall_s - (time.monotonic() - start)
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(timeout=left):
                data = os.read(key.fd, 65536)
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
        # Kill the whole group before reaping, so the group id cannot have been reused.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    wall = time.monotonic() - start
    status = ""
    try:
        with open(os.path.join(work, ".sandbox_status"), encoding="utf-8") as f:
            status = f.read(64)
    except OSError:
        pass

    def text(name: str) -> str:
        return b"".join(chunks[name]).decode("utf-8", errors="replace")

    return SandboxResult(
        returncode=proc.returncode,
        stdout=text("out"),
        stderr=text("err"),
        timed_out=timed_out,
        output_truncated=truncated,
        wall_s=wall,
        net_isolated=status == "net=1",
    )
