"""The bubblewrap command line that puts model code in its own namespaces.

What the sandboxed interpreter gets: its own user (uid/gid 65534, no capabilities, no further
user namespaces), PID, mount, network, IPC, UTS and cgroup namespaces; a root that is an empty
read-only tmpfs holding only ``/usr`` and the Python installation (read-only; no ``/etc``,
``/home``, ``/root``, ``/tmp``, ``/proc`` or ``/sys``), a minimal read-only ``/dev``, and a
private tmpfs of a fixed size as its work directory, filled from memory file descriptors (so no
host directory is involved at all). ``--die-with-parent`` and ``--new-session`` tie it to the
host process and keep it off the host's terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

WORK_DIR = "/sandbox"
SANDBOX_ID = "65534"  # nobody/nogroup inside the user namespace
# Top-level directories that merged-/usr systems turn into links into /usr.
_USR_ALIASES = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def python_executable() -> str:
    """The base interpreter (not a venv's link to it): the sandbox runs it with -I -S."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def _python_roots(python: str) -> list[str]:
    """Directories outside /usr the interpreter and its standard library live in."""
    candidates = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.base_exec_prefix)}
    candidates.add(os.path.dirname(os.path.dirname(python)))
    roots = []
    for path in sorted(candidates):
        if path in ("/", "") or path == "/usr" or path.startswith("/usr/"):
            continue
        if not any(path.startswith(r + "/") for r in roots):
            roots.append(path)
    return roots


def command(
    python: str,
    argv: list[str],
    files: Mapping[str, int],
    disk_bytes: int,
    env: Mapping[str, str],
    seccomp_fd: int | None,
    info_fd: int,
) -> list[str]:
    """``bwrap ... python argv``; ``files`` maps names in the work dir to readable fds.

    bwrap writes ``{"child-pid": N, ...}`` to ``info_fd``: N is the sandbox's PID 1 (on the
    host), whose death ends every process in the sandbox before bwrap itself exits.
    """
    cmd = ["bwrap", "--ro-bind", "/usr", "/usr"]
    for name in _USR_ALIASES:
        path = "/" + name
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    cmd += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for root in _python_roots(python):
        cmd += ["--ro-bind", root, root]
    cmd += ["--dev", "/dev", "--remount-ro", "/dev"]
    cmd += ["--size", str(int(disk_bytes)), "--tmpfs", WORK_DIR]
    for name, fd in files.items():
        cmd += ["--file", str(fd), f"{WORK_DIR}/{name}"]
    cmd += ["--chdir", WORK_DIR, "--remount-ro", "/"]
    cmd += ["--unshare-user", "--unshare-all", "--disable-userns", "--hostname", "sandbox"]
    cmd += ["--uid", SANDBOX_ID, "--gid", SANDBOX_ID, "--die-with-parent", "--new-session"]
    cmd += ["--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    if seccomp_fd is not None:
        cmd += ["--seccomp", str(seccomp_fd)]
    cmd += ["--info-fd", str(info_fd)]
    return [*cmd, "--", python, *argv]
