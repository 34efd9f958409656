"""Runs first inside the sandbox, before the model's program: resource limits, then an audit hook.

The host passes this file's text to the interpreter with ``-c`` (so it never lives in the
writable work directory), its settings as JSON in ``argv[1]`` and the program to run in
``argv[2]``. Standard library only; it is never imported by the host.

The audit hook is an inner layer, not the boundary (see the threat model in ``envs.sandbox``):
it turns ordinary mistakes (a shell call, a stray write) into a clear ``PermissionError``. It is
built so that model code cannot take it apart from Python: the hook function is reachable only
through the garbage collector, whose introspection it refuses; it calls no Python function and
looks up no global or builtin at call time (everything it uses is a closure value of an
immutable type or a C function), so patching modules, builtins or closure cells cannot change
its answers; and it accepts only ``str`` and ``bytes`` paths, so a path object cannot give one
answer to the check and another to the open.
"""

import json
import os
import resource
import signal  # noqa: F401  (loaded here so that its pidfd function can be refused)
import sys
import sysconfig

# Events refused outright: processes, signals, limits, links, directory changes, interpreter
# surgery (the garbage collector's view of live objects, new code and function objects).
BLOCKED_EVENTS = frozenset(
    {
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.kill",
        "os.killpg",
        "signal.pthread_kill",
        "subprocess.Popen",
        "resource.setrlimit",
        "resource.prlimit",
        "os.symlink",
        "os.link",
        "os.chdir",
        "os.fchdir",
        "os.chroot",
        "os.setuid",
        "os.startfile",
        "os.setxattr",
        "os.removexattr",
        "webbrowser.open",
        "pty.spawn",
        "sys.addaudithook",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "code.__new__",
        "function.__new__",
        "sqlite3.connect",
        "sqlite3.enable_load_extension",
        "sqlite3.load_extension",
    }
)
BLOCKED_PREFIXES = ("socket.", "ctypes.", "_ctypes.", "winreg.", "os.add_dll")
# Modules that write files or reach the system below the audit events (C-level file access:
# sqlite3, dbm, readline history, POSIX shared memory), or that poke at interpreter memory.
BLOCKED_MODULES = frozenset(
    {
        "ctypes",
        "_ctypes",
        "_posixsubprocess",
        "multiprocessing",
        "_multiprocessing",
        "socket",
        "_socket",
        "ssl",
        "_ssl",
        "subprocess",
        "pty",
        "webbrowser",
        "sqlite3",
        "_sqlite3",
        "dbm",
        "_dbm",
        "_gdbm",
        "readline",
        "_posixshmem",
        "_xxsubinterpreters",
        "_xxinterpchannels",
    }
)
BLOCKED_MODULE_PREFIXES = ("_test", "_ctypes_test", "_xxtest")
# Events whose first argument(s) are paths that must lie in the work directory, with how many.
# (Their dir_fd arguments need no check: the only way to a directory descriptor is an open,
# and the hook refuses to open directories outside the work directory.)
WRITE_PATH_EVENTS = (
    ("os.remove", 1),
    ("os.rename", 2),
    ("os.mkdir", 1),
    ("os.rmdir", 1),
    ("os.chmod", 1),
    ("os.chown", 1),
    ("os.utime", 1),
    ("os.truncate", 1),
    ("os.chflags", 1),
    ("os.mkfifo", 1),
    ("os.mknod", 1),
    ("shutil.rmtree", 1),
    ("shutil.copyfile", 2),
    ("shutil.copymode", 2),
    ("shutil.copystat", 2),
    ("shutil.copytree", 2),
    ("shutil.move", 2),
)
READ_PATH_EVENTS = frozenset({"os.listdir", "os.scandir", "os.listxattr", "os.getxattr"})
# Functions that raise no audit event and reach beyond the work directory or the process
# (fifos and device nodes anywhere, signals by pidfd, scheduling that can starve the host):
# replaced in every module that holds them by one that refuses.
UNAUDITED_OS_FUNCTIONS = (
    "mkfifo",
    "mknod",
    "pidfd_open",
    "sched_setscheduler",
    "sched_setparam",
    "setpriority",
    "nice",
)
REFUSED_FUNCTIONS = (
    ("posix", UNAUDITED_OS_FUNCTIONS),
    ("os", UNAUDITED_OS_FUNCTIONS),
    ("signal", ("pidfd_send_signal",)),
    ("_signal", ("pidfd_send_signal",)),
)


def refuse(module, name: str) -> None:
    """Replace ``module.name`` with a function that raises the sandbox's PermissionError."""
    qualified = f"{'os' if module.__name__ == 'posix' else module.__name__}.{name}"

    def refused(*args, **kwargs):
        raise PermissionError(f"sandbox: {qualified} is not allowed")

    setattr(module, name, refused)


def set_limits(cfg: dict) -> None:
    """Hard and soft limits alike, so the program cannot raise them again."""
    for name, value in (
        ("RLIMIT_CPU", cfg["cpu"]),
        ("RLIMIT_AS", cfg["mem"]),
        ("RLIMIT_FSIZE", cfg["fsize"]),
        ("RLIMIT_NOFILE", cfg["nofile"]),
        ("RLIMIT_NPROC", cfg["nproc"]),
        ("RLIMIT_CORE", 0),
    ):
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (ValueError, OSError):
            pass


def enter_network_namespace() -> bool:
    """Process level only: try a fresh network namespace (needs root or user namespaces)."""
    isolated = False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        isolated = libc.unshare(0x40000000) == 0 or libc.unshare(0x10000000 | 0x40000000) == 0
    except Exception:
        pass
    for name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]
    return isolated


def make_hook(work: str, readable: tuple[str, ...], trusted_links: frozenset[str]):
    """The audit hook; see the module docstring for why it is written the way it is.

    ``readable`` are the roots that may be read, ``work`` the one that may be written;
    ``trusted_links`` are the system symbolic links on the way to them (merged /usr), the only
    ones a path may pass through.
    """
    # Everything the hook touches, bound now (immutable values and C functions only).
    blocked_events, blocked_prefixes = BLOCKED_EVENTS, BLOCKED_PREFIXES
    blocked_modules, blocked_module_prefixes = BLOCKED_MODULES, BLOCKED_MODULE_PREFIXES
    write_events, read_events = WRITE_PATH_EVENTS, READ_PATH_EVENTS
    lstat, decode, len_ = os.lstat, bytes.decode, len
    type_, str_, bytes_, int_ = type, str, bytes, int
    denied, oserror = PermissionError, OSError
    fmt_mask, fmt_link, fmt_dir = 0o170000, 0o120000, 0o040000
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    work_roots = (work,)
    native_roots = tuple(root for root in readable if root != work)

    def hook(event, args):
        if event in blocked_events or event.startswith(blocked_prefixes):
            raise denied(f"sandbox: {event} is not allowed")
        if event == "import":
            top = args[0].partition(".")[0]
            if top in blocked_modules or top.startswith(blocked_module_prefixes):
                raise denied(f"sandbox: importing {args[0]} is not allowed")
            native = args[1] if len_(args) > 1 else None  # a filename: native code is loaded
            if native is not None:
                trusted = False
                for root in native_roots:
                    if type_(native) is str_ and native.startswith(root + "/"):
                        trusted = True
                if not trusted or ".." in native:
                    raise denied(f"sandbox: loading native code from {native!r} is not allowed")
            return
        # Which paths this event touches, where they may lie, and how a refusal reads.
        if event == "open":
            path, mode, flags = args
            if type_(path) is int_ or path is None:
                return  # an already open descriptor: its opening was checked
            writing = (
                type_(mode) is str_ and ("w" in mode or "a" in mode or "x" in mode or "+" in mode)
            ) or (type_(flags) is int_ and flags & write_flags != 0)
            paths = (path,)
            roots = work_roots if writing else readable
            action, purpose = "cannot open", (" for writing" if writing else " for reading")
        elif event in read_events:
            if not args or args[0] is None or type_(args[0]) is int_:
                return
            paths, roots, action, purpose = (args[0],), readable, event + " on", ""
        else:
            rule = None
            for candidate in write_events:
                if candidate[0] == event:
                    rule = candidate
                    break
            if rule is None:
                return
            paths, roots, action, purpose = args[: rule[1]], work_roots, event + " on", ""
            for path in paths:
                if type_(path) is int_ and event != "os.truncate":
                    raise denied(f"sandbox: {event} on a file descriptor is not allowed")
        for path in paths:
            if type_(path) is int_:
                continue
            if type_(path) is bytes_:
                path = decode(path, "utf-8", "surrogateescape")
            elif type_(path) is not str_:
                raise denied(
                    "sandbox: file paths must be str or bytes (a path object can "
                    "change its answer between the check and the open)"
                )
            if not path.startswith("/"):
                path = work + "/" + path
            # Walk the path as the kernel will; the only links allowed are trusted ones.
            parts = []
            last_mode = fmt_dir
            for part in path.split("/"):
                if part == "" or part == ".":
                    continue
                if part == "..":
                    if parts:
                        parts.pop()
                    continue
                parts.append(part)
                prefix = "/" + "/".join(parts)
                try:
                    last_mode = lstat(prefix).st_mode & fmt_mask
                except oserror:
                    last_mode = 0  # does not exist (yet)
                    continue
                if last_mode == fmt_link and prefix not in trusted_links:
                    raise denied(f"sandbox: {action} {prefix!r}{purpose}: a symbolic link")
            resolved = "/" + "/".join(parts)
            inside_work = resolved == work or resolved.startswith(work + "/")
            allowed = False
            for root in roots:
                if resolved == root or resolved.startswith(root + "/"):
                    allowed = True
            if event == "open" and last_mode == fmt_dir and not inside_work:
                allowed = False  # a directory descriptor would serve as a dir_fd elsewhere
            if not allowed:
                raise denied(
                    f"sandbox: {action} {resolved!r}{purpose} outside the working directory"
                )

    return hook


def links_on_the_way(paths: set[str]) -> frozenset[str]:
    """The symbolic links among the ancestors of ``paths`` (e.g. /lib -> usr/lib)."""
    links = set()
    for path in paths:
        parts = path.split("/")
        for i in range(2, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if os.path.islink(prefix):
                links.add(prefix)
    return frozenset(links)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    program = sys.argv[2]
    set_limits(cfg)
    if cfg["try_netns"]:
        net = enter_network_namespace()
        with open(".sandbox_status", "w") as f:
            f.write(f"net={int(net)}")
    work = os.path.realpath(os.getcwd())
    stdlib = {os.path.abspath(sysconfig.get_path(k)) for k in ("stdlib", "platstdlib")}
    readable = tuple(sorted({work} | stdlib | {os.path.realpath(p) for p in stdlib}))
    if cfg["hook"]:
        for module_name, names in REFUSED_FUNCTIONS:
            module = sys.modules.get(module_name)
            for name in names:
                if module is not None and hasattr(module, name):
                    refuse(module, name)
        sys.addaudithook(make_hook(work, readable, links_on_the_way(stdlib)))
    sys.argv = [program]
    with open(program, encoding="utf-8") as f:
        code = compile(f.read(), program, "exec")
    exec(code, {"__name__": "__main__", "__file__": program, "__builtins__": __builtins__})


if __name__ == "__main__":
    main()
