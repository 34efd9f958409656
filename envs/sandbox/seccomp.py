"""A seccomp filter for sandboxed model code, as raw classic BPF (no libseccomp needed).

bubblewrap loads it (``--seccomp FD``) just before it executes the interpreter. It is a deny
list on top of the namespaces: the calls below have no use in a program that computes answers,
and each is a known way to reach beyond the sandbox or the kernel's attack surface. Denied calls
fail with ``EPERM`` (so Python raises ``PermissionError``), except ``clone3``, which fails with
``ENOSYS`` so that the C library falls back to ``clone``, where the flags can be inspected:
threads are allowed, new processes are not (no fork bombs, no shell).

Only x86_64 is covered, because its numbers are the ones this project can test against the
kernel headers; on other machines the sandbox runs without this filter and says so
(``Isolation.BWRAP`` instead of ``Isolation.BWRAP_SECCOMP``). A program of another ABI on
x86_64 (i386, x32) is killed outright, so the numbers cannot be dodged.
"""

from __future__ import annotations

import errno
import platform
import struct
from dataclasses import dataclass

# Syscall numbers on x86_64 (arch/x86/entry/syscalls/syscall_64.tbl), grouped by why they go.
DENIED_X86_64: dict[str, int] = {
    # new processes (clone without CLONE_THREAD is handled separately)
    "fork": 57,
    "vfork": 58,
    # reaching other processes: signals by pidfd, memory, tracing
    "ptrace": 101,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "pidfd_open": 434,
    "pidfd_send_signal": 424,
    "pidfd_getfd": 438,
    "kcmp": 312,
    "process_madvise": 440,
    # namespaces and mounts
    "unshare": 272,
    "setns": 308,
    "mount": 165,
    "umount2": 166,
    "pivot_root": 155,
    "chroot": 161,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "mount_setattr": 442,
    # file kinds and metadata the audit hook cannot see: device nodes, fifos, xattrs, handles
    "mknod": 133,
    "mknodat": 259,
    "setxattr": 188,
    "lsetxattr": 189,
    "fsetxattr": 190,
    "removexattr": 197,
    "lremovexattr": 198,
    "fremovexattr": 199,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "fanotify_init": 300,
    # kernel attack surface
    "bpf": 321,
    "perf_event_open": 298,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "keyctl": 250,
    "add_key": 248,
    "request_key": 249,
    "personality": 135,
    "mbind": 237,
    "set_mempolicy": 238,
    "migrate_pages": 256,
    "move_pages": 279,
    # machine administration
    "kexec_load": 246,
    "kexec_file_load": 320,
    "init_module": 175,
    "finit_module": 313,
    "delete_module": 176,
    "reboot": 169,
    "swapon": 167,
    "swapoff": 168,
    "acct": 163,
    "syslog": 103,
    "quotactl": 179,
    "iopl": 172,
    "ioperm": 173,
    "settimeofday": 164,
    "clock_settime": 227,
    "clock_adjtime": 305,
    "adjtimex": 159,
    "vhangup": 153,
    "uselib": 134,
    "lookup_dcookie": 212,
    "nfsservctl": 180,
    "ustat": 136,
    "sysfs": 139,
    "_sysctl": 156,
}
CLONE_X86_64 = 56
CLONE3_X86_64 = 435
CLONE_THREAD = 0x00010000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
_NR, _ARCH, _ARG0_LOW = 0, 4, 16
# classic BPF opcodes
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
# seccomp return actions
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_ALLOW = 0x7FFF0000


@dataclass(frozen=True)
class _Insn:
    """One BPF instruction; jump targets are label names resolved when the program is packed."""

    code: int
    k: int
    true: str | None = None
    false: str | None = None


def supported() -> bool:
    """Whether this machine's ABI is one the filter knows (x86_64 only)."""
    return platform.machine() in ("x86_64", "AMD64")


def filter_program() -> bytes:
    """The packed ``struct sock_filter`` array for x86_64 (raises on other machines)."""
    if not supported():
        raise RuntimeError(f"no seccomp filter for {platform.machine()}")
    prog: list[_Insn | str] = [
        _Insn(_LD_W_ABS, _ARCH),
        _Insn(_JEQ_K, AUDIT_ARCH_X86_64, "native", "kill"),
        "native",
        _Insn(_LD_W_ABS, _NR),
        _Insn(_JGE_K, X32_SYSCALL_BIT, "kill", "x64"),
        "x64",
        _Insn(_JEQ_K, CLONE_X86_64, "clone", "not_clone"),
        "not_clone",
        _Insn(_JEQ_K, CLONE3_X86_64, "enosys", "not_clone3"),
        "not_clone3",
    ]
    for i, number in enumerate(sorted(set(DENIED_X86_64.values()))):
        prog += [_Insn(_JEQ_K, number, "eperm", f"next{i}"), f"next{i}"]
    prog += [
        _Insn(_RET_K, _ALLOW),
        "clone",
        _Insn(_LD_W_ABS, _ARG0_LOW),
        _Insn(_JSET_K, CLONE_THREAD, "allow", "eperm"),
        "allow",
        _Insn(_RET_K, _ALLOW),
        "eperm",
        _Insn(_RET_K, _ERRNO | errno.EPERM),
        "enosys",
        _Insn(_RET_K, _ERRNO | errno.ENOSYS),
        "kill",
        _Insn(_RET_K, _KILL_PROCESS),
    ]
    return _pack(prog)


def _pack(prog: list[_Insn | str]) -> bytes:
    """Resolve labels (strings mark the position of the next instruction) and pack."""
    labels: dict[str, int] = {}
    insns: list[_Insn] = []
    for item in prog:
        if isinstance(item, str):
            labels[item] = len(insns)
        else:
            insns.append(item)
    out = bytearray()
    for pc, insn in enumerate(insns):
        jt = jf = 0
        if insn.true is not None and insn.false is not None:
            jt, jf = labels[insn.true] - pc - 1, labels[insn.false] - pc - 1
            if not (0 <= jt <= 255 and 0 <= jf <= 255):
                raise ValueError(f"BPF jump out of range at instruction {pc}")
        out += struct.pack("=HBBI", insn.code, jt, jf, insn.k)
    return bytes(out)
