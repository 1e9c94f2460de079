"""Run model-written Python against its tests, isolated by the kernel.

Two sandboxed processes take part in every run, and neither can reach the harness:

* the **runner** executes the model's program (after the benchmark's trusted setup code) and
  then only answers calls: "call f(*args)" -> the returned value, as plain data;
* the **judge** executes the benchmark's tests. Every top-level function of the program is a
  proxy there: calling it sends the arguments to the runner and decodes the reply into
  built-in types (int, float, str, list, tuple, dict, set, ...; never objects of the model's
  classes), so the assertions compare real values with built-in ``==``. The judge alone reports
  the verdict, over a pipe the runner has no handle to. There is no token: a program that
  prints anything, forges protocol frames or exits early gets at best "error".

Each process runs in its own sandbox, built by a small launcher before any untrusted code runs:

* new mount, PID, network, IPC and UTS namespaces (plus a user namespace when the harness is
  not root). The filesystem is a private, read-only view: ``/usr`` (with the ``/bin``, ``/lib*``
  links), the Python installation, a minimal ``/dev`` (null, zero, full, random, urandom), a
  ``/proc`` of the new PID namespace, a synthetic ``/etc`` (passwd, group, hosts; the loader
  cache). Nothing else of the host is visible: no home, no repository, no ``/etc/shadow``, no
  other process. The only writable place is the working directory, a size-capped tmpfs
  private to the run (it vanishes with the namespace);
* the untrusted process runs without any capability: as root the launcher switches to an
  unused uid/gid (a different one per sandbox), otherwise it drops every capability of the
  user namespace; ``no_new_privs`` is set (setuid programs cannot raise privileges) and all
  mounts are ``nosuid``;
* no network (an empty network namespace) unless ``SandboxLimits.network`` is set;
* resource limits: wall-clock timeout (the whole namespace is killed), address space
  (RLIMIT_AS), CPU seconds, file size, processes (a ``pids`` cgroup when the cgroup filesystem
  is writable, and RLIMIT_NPROC for the sandbox's own uid), working-directory size (tmpfs);
* an audit hook in the runner (blocks fork/exec/sockets/ctypes calls/writes outside the working
  directory, with a readable ``sandbox:`` message). It only makes the common accidents fail
  early and clearly; the wall is the kernel isolation above.

When the machine lacks a needed kernel feature (namespaces, mounts), the sandbox refuses with
:class:`SandboxUnavailable` and runs nothing: code is never run unconfined. See
docs/security.md for what this does and does not protect against.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from avengers.errors import AvengersError

__all__ = [
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "run_python",
    "run_tests",
    "sandbox_capabilities",
]

STATUSES = ("passed", "failed", "timeout", "error", "killed")

#: uids/gids given to sandboxes when the harness runs as root (systemd's range for dynamic
#: users: not used by regular accounts); each sandbox draws its own
_SANDBOX_ID_RANGE = (61184, 65519)


class SandboxUnavailable(AvengersError):
    """The kernel does not offer the isolation the sandbox needs; nothing was run."""


@dataclass(frozen=True)
class SandboxLimits:
    timeout: float = 10.0  # wall-clock seconds for the whole run (program + tests)
    memory_mb: int = 1024  # RLIMIT_AS of each sandboxed process
    cpu_seconds: int | None = None  # RLIMIT_CPU; default: ceil(timeout) + 2
    max_processes: int = 16  # cgroup pids.max and RLIMIT_NPROC
    max_file_mb: int = 16  # RLIMIT_FSIZE (also caps stdout / stderr)
    max_disk_mb: int = 64  # size of the working directory (a private tmpfs)
    network: bool = False  # True keeps the host network (not recommended)


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    status: str  # 'passed' | 'failed' | 'timeout' | 'error' | 'killed'
    returncode: int | None  # exit status of the program's process (negative: signal)
    stdout: str  # tail
    stderr: str  # tail
    duration: float  # seconds
    workdir: str  # the working directory's path (inside the sandbox; gone afterwards)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "status": self.status,
            "returncode": self.returncode,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "duration": self.duration,
        }


# ----------------------------------------------------------------------------- the launcher
# Runs as `python -I -S -B -c _LAUNCHER <config-json>`, started by the harness. It is trusted
# code: no model code runs in it. Process tree:
#   launcher (L, harness PID namespace) -> init (I, PID 1 of the new namespace, sets up the
#   filesystem) -> worker (W: drops every privilege, sets the limits, execs the Python that runs
#   the runner or judge bootstrap).
# Killing L kills I (PR_SET_PDEATHSIG), and the kernel kills every process of a PID namespace
# whose init dies. Failures before W's exec are reported as "setup-error <message>" on the
# status pipe; I reports W's wait status as "exit <status>".
_LAUNCHER = r'''
import ctypes, json, os, select, signal, sys

cfg = json.loads(sys.argv[1])
STATUS = cfg["status_fd"]
libc = ctypes.CDLL(None, use_errno=True)

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_CAPBSET_DROP = 1, 4, 24
PR_SET_SECUREBITS, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 28, 38, 47, 4
# NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE and the locks of all three (plus KEEP_CAPS')
SECUREBITS = 0b11101111
PIVOT_ROOT_NR = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}


def report(text):
    try:
        os.write(STATUS, text.encode("utf-8", "replace") + b"\n")
    except OSError:
        pass


class SetupError(Exception):
    pass


def check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise SetupError("%s failed: %s (errno %d)" % (what, os.strerror(err), err))


def fault(step):
    if cfg.get("fault") == step:  # for tests of the refusal path only
        raise SetupError("%s failed: simulated for a test" % step)


def mount(src, dst, fstype, flags, data=None):
    b = lambda s: None if s is None else s.encode()
    check(libc.mount(b(src), b(dst), b(fstype), ctypes.c_ulong(flags), b(data)), "mount %s on %s" % (src or fstype, dst))


def kept_flags(path):
    # A remount must keep the flags the kernel locked on the original mount (user namespaces).
    f = os.statvfs(path).f_flag
    out = 0
    for st, ms in ((1, MS_RDONLY), (2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC),
                   (1024, MS_NOATIME), (2048, MS_NODIRATIME), (4096, MS_RELATIME)):
        if f & st:
            out |= ms
    return out


def bind_ro(src, dst, extra=MS_NOSUID | MS_NODEV):
    mount(src, dst, None, MS_BIND | MS_REC)
    mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | extra | kept_flags(dst))


def makedirs(path):
    os.makedirs(path, mode=0o755, exist_ok=True)


def touch(path):
    makedirs(os.path.dirname(path))
    with open(path, "a"):
        pass


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def setup_filesystem(root):
    uid, gid = cfg["uid"], cfg["gid"]
    work = cfg["workdir"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the host
    fault("mount")
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = "/" + top
        if os.path.islink(host):
            os.symlink(os.readlink(host), root + host)
        elif os.path.isdir(host):
            makedirs(root + host)
            bind_ro(host, root + host)
    for path in cfg["ro_dirs"]:  # /usr and the Python installation, at their own paths
        makedirs(root + path)
        bind_ro(path, root + path)
    makedirs(root + "/etc")
    write(root + "/etc/passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n"
          "sandbox:x:%d:%d:sandbox:%s:/usr/sbin/nologin\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n" % (uid, gid, work))
    write(root + "/etc/group", "root:x:0:\nsandbox:x:%d:\nnogroup:x:65534:\n" % gid)
    write(root + "/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n")
    for name in cfg["etc_files"]:  # the loader cache and other non-secret files
        host = "/etc/" + name
        if os.path.isdir(host):
            makedirs(root + host)
        elif os.path.exists(host):
            touch(root + host)
        else:
            continue
        bind_ro(host, root + host)
    makedirs(root + "/dev")
    for dev in ("null", "zero", "full", "random", "urandom"):
        touch(root + "/dev/" + dev)
        mount("/dev/" + dev, root + "/dev/" + dev, None, MS_BIND)
        dst = root + "/dev/" + dev
        mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC | kept_flags(dst))
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, root + "/dev/" + name)
    makedirs(root + "/proc")
    fault("proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # this PID namespace only
    makedirs(root + "/tmp")
    makedirs(root + work)
    mount("tmpfs", root + work, "tmpfs", MS_NOSUID | MS_NODEV,
          "size=%dk,mode=0700,uid=%d,gid=%d" % (cfg["disk_kb"], cfg["tmpfs_uid"], cfg["tmpfs_gid"]))
    for name, src in cfg["files"].items():
        dst = root + work + "/" + name
        with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read())
        os.chown(dst, cfg["tmpfs_uid"], cfg["tmpfs_gid"])
    # the new root replaces the old one, which is then detached: the host is out of reach
    os.chdir(root)
    fault("pivot_root")
    if hasattr(libc, "pivot_root"):
        check(libc.pivot_root(b".", b"."), "pivot_root")
    else:
        nr = PIVOT_ROOT_NR.get(os.uname().machine)
        if nr is None:
            raise SetupError("pivot_root: unknown system call number on %s" % os.uname().machine)
        check(libc.syscall(nr, b".", b"."), "pivot_root")
    check(libc.umount2(b".", MNT_DETACH), "umount of the old root")
    os.chdir("/")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    name = b"sandbox"
    libc.sethostname(name, len(name))


def drop_privileges():
    for cap in range(64):  # the bounding set, so nothing regains a capability later
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            check(-1, "dropping capability %d" % cap)
    check(libc.prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0), "locking the securebits")
    if cfg["switch_user"]:  # the harness is root: become an unprivileged, unused uid
        os.setgroups([])
        os.setresgid(cfg["gid"], cfg["gid"], cfg["gid"])
        os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
    data = (Data * 2)()
    check(libc.capset(ctypes.byref(Header(0x20080522, 0)), data), "capset")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("CapEff:", "CapPrm:", "CapBnd:")) and int(line.split()[1], 16) != 0:
                raise SetupError("capabilities are still held after dropping them: " + line.strip())


def set_limits():
    import resource
    def lim(which, value):
        resource.setrlimit(which, (value, value))
    lim(resource.RLIMIT_AS, cfg["memory_bytes"])
    lim(resource.RLIMIT_CPU, cfg["cpu_seconds"])
    lim(resource.RLIMIT_FSIZE, cfg["file_bytes"])
    lim(resource.RLIMIT_CORE, 0)
    if cfg["switch_user"]:  # counted per uid: the sandbox's own, so only its processes count
        lim(resource.RLIMIT_NPROC, cfg["max_processes"])


def worker():
    # W: the process that becomes the sandboxed Python
    global STATUS
    os.setsid()
    keep = cfg["keep_fds"]
    import fcntl
    # the kept pipes move to fds 3, 4, (5); the status pipe stays until exec (close-on-exec)
    status = fcntl.fcntl(STATUS, fcntl.F_DUPFD_CLOEXEC, 1000 + len(keep))
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 1000 + i) for i, fd in enumerate(keep)]
    for i, fd in enumerate(high):
        os.dup2(fd, 3 + i)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.closerange(3 + len(keep), status)
    os.closerange(status + 1, 65536)
    STATUS = status
    fault("drop")
    drop_privileges()
    set_limits()
    os.chdir(cfg["workdir"])
    argv = [cfg["python"], "-I", "-B", "-c", cfg["bootstrap"], cfg["bootstrap_cfg"]]
    os.execve(cfg["python"], argv, cfg["env"])


def init(life):
    # I: PID 1 of the new PID namespace
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if select.select([life], [], [], 0)[0]:  # the launcher died before PDEATHSIG was armed
        os._exit(1)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # nothing in the namespace may ptrace init
    setup_filesystem(cfg["root"])
    pid = os.fork()
    if pid == 0:
        try:
            worker()
        except BaseException as e:
            report("setup-error %s" % (e,))
        os._exit(71)
    for fd in cfg["keep_fds"]:
        os.close(fd)
    while True:  # reap every orphan until the worker itself has ended
        try:
            child, st = os.wait()
        except ChildProcessError:
            os._exit(0)
        if child == pid:
            report("exit %d" % st)
            os._exit(0)  # the kernel now kills whatever the worker left behind


def launcher():
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the harness died: so do we
    if os.getppid() != cfg["parent_pid"]:
        os._exit(1)
    if cfg["cgroup_procs"]:
        with open(cfg["cgroup_procs"], "w") as f:
            f.write(str(os.getpid()))
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if not cfg["network"]:
        flags |= CLONE_NEWNET
    if not cfg["switch_user"]:
        flags |= CLONE_NEWUSER
    fault("unshare")
    check(libc.unshare(flags), "unshare(user/mount/pid/net/ipc/uts namespaces)")
    if not cfg["switch_user"]:  # map our own uid/gid to root of the new user namespace
        for name, text in (("setgroups", "deny"), ("uid_map", "0 %d 1" % cfg["outer_uid"]),
                           ("gid_map", "0 %d 1" % cfg["outer_gid"])):
            with open("/proc/self/" + name, "w") as f:
                f.write(text)
    life_r, life_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(life_w)
        try:
            init(life_r)
        except BaseException as e:
            report("setup-error %s" % (e,))
        os._exit(70)
    os.close(life_r)
    for fd in cfg["keep_fds"]:
        os.close(fd)
    os.close(STATUS)
    os.waitpid(pid, 0)
    os._exit(0)


try:
    launcher()
except BaseException as e:
    report("setup-error %s" % (e,))
    os._exit(70)
'''


# ---------------------------------------------------------------------- shared protocol code
# Length-prefixed frames over pipes. Both bootstraps start with it.
_PROTOCOL = r'''
import os as _os

MAX_FRAME = 64 * 1024 * 1024


class ProtocolError(Exception):
    pass


def _read_exact(fd, n):
    chunks = []
    while n:
        b = _os.read(fd, min(n, 1 << 20))
        if not b:
            raise EOFError
        chunks.append(b)
        n -= len(b)
    return b"".join(chunks)


def recv_frame(fd):
    n = int.from_bytes(_read_exact(fd, 8), "big")
    if n > MAX_FRAME:
        raise ProtocolError("a reply of %d bytes exceeds the %d-byte limit" % (n, MAX_FRAME))
    return _read_exact(fd, n)


def send_frame(fd, data):
    data = len(data).to_bytes(8, "big") + data
    while data:
        data = data[_os.write(fd, data):]
'''


# ------------------------------------------------------------------------------ the runner
# Runs the program (setup + model code) in module ``__sandbox__``, then answers calls from the
# judge on fd 3 (requests, pickled by the trusted judge) with plain data on fd 4.
_RUNNER = _PROTOCOL + r'''
import sys, json
cfg = json.loads(sys.argv[1])
del sys.argv[1:]
REQ, RESP = 3, 4
workdir = cfg["workdir"]


def _make_hook(roots, allow_network,
               _isinstance=isinstance, _str=str, _bytes=bytes, _int=int,
               _fspath=_os.fspath, _getcwd=_os.getcwd, _len=len,
               _O_W=_os.O_WRONLY | _os.O_RDWR | _os.O_APPEND | _os.O_CREAT | _os.O_TRUNC):
    # Early, readable failures for the usual accidents; the kernel isolation is the wall.
    class SandboxViolation(PermissionError):
        pass

    always = (
        "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system",
        "os.kill", "os.killpg", "os.symlink", "os.link", "os.chroot", "os.setuid",
        "subprocess.Popen", "pty.spawn", "ctypes.dlsym", "ctypes.call_function", "resource.setrlimit", "resource.prlimit",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
        "webbrowser.open", "_posixsubprocess", "sqlite3.connect",
    )
    if not allow_network:
        always = always + ("socket.", "urllib.Request", "http.client.connect", "ftplib.",
                           "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.")
    # ctypes itself may be imported (numpy, in the reference's import block, needs it); looking
    # up or calling a C function through it is refused.
    blocked_imports = ("_posixsubprocess",)
    path_events = {
        "os.remove": (0,), "os.rmdir": (0,), "os.mkdir": (0,), "os.rename": (0, 1),
        "os.replace": (0, 1), "os.chmod": (0,), "os.chown": (0,), "os.truncate": (0,),
        "os.utime": (0,), "shutil.rmtree": (0,), "shutil.chown": (0,), "os.mkfifo": (0,),
        "os.mknod": (0,), "os.lchown": (0,), "os.lchmod": (0,), "os.chflags": (0,),
        "os.removexattr": (0,), "os.setxattr": (0,),
    }
    write_ok = ("/dev/null", "/dev/stdout", "/dev/stderr")

    def norm(p):
        if _isinstance(p, _int):
            return None
        try:
            p = _fspath(p)
        except TypeError:
            return None
        if _isinstance(p, _bytes):
            p = p.decode("utf-8", "surrogateescape")
        if not p.startswith("/"):
            p = _getcwd() + "/" + p
        parts = []
        for seg in p.split("/"):
            if seg == "" or seg == ".":
                continue
            if seg == "..":
                if parts:
                    parts.pop()
                continue
            parts.append(seg)
        return "/" + "/".join(parts)

    def inside(p):
        n = norm(p)
        if n is None:
            return True  # an already-open file descriptor
        if n in write_ok:
            return True
        for r in roots:
            if n == r or n.startswith(r + "/"):
                return True
        return False

    def hook(event, args):
        for prefix in always:
            if event.startswith(prefix):
                raise SandboxViolation("sandbox: %s is not allowed" % event)
        if event == "open":
            path = args[0]
            mode = args[1] if _len(args) > 1 else None
            flags = args[2] if _len(args) > 2 else 0
            writing = False
            if _isinstance(mode, _str):
                for c in "wax+":
                    if c in mode:
                        writing = True
            if _isinstance(flags, _int) and flags & _O_W:
                writing = True
            if writing and not inside(path):
                raise SandboxViolation("sandbox: writing %r outside the working directory" % (path,))
        elif event == "import":
            if args and args[0] in blocked_imports:
                raise SandboxViolation("sandbox: import of %s is not allowed" % args[0])
        elif event in path_events:
            for i in path_events[event]:
                if i < _len(args) and not inside(args[i]):
                    raise SandboxViolation("sandbox: %s on %r outside the working directory" % (event, args[i]))

    return hook


import io, pickle, signal, traceback, types
from collections import deque as _deque
from fractions import Fraction as _Fraction
from decimal import Decimal as _Decimal

_MAX_ITEMS = 2_000_000


class Unencodable(TypeError):
    pass


def encode(x):
    """Plain data for the judge; anything else (objects of the program's classes, functions,
    cycles, too much data) cannot be checked outside this process and is refused."""
    budget = [_MAX_ITEMS]
    on_path = set()

    def enc(x, depth):
        budget[0] -= 1
        if budget[0] < 0 or depth > 500:
            raise Unencodable("the returned value is too large or too deeply nested")
        if x is None or x is True or x is False:
            return x
        if isinstance(x, bool):
            return bool(x)
        if isinstance(x, int):
            return ["int", format(int.__index__(x), "x")]
        if isinstance(x, float):
            return ["float", float.hex(float(x))]
        if isinstance(x, complex):
            return ["complex", float.hex(x.real), float.hex(x.imag)]
        if isinstance(x, str):
            return str.__str__(x)
        if isinstance(x, (bytes, bytearray)):
            return ["bytearray" if isinstance(x, bytearray) else "bytes", bytes(x).hex()]
        if isinstance(x, range):
            return ["range", enc(x.start, depth + 1), enc(x.stop, depth + 1), enc(x.step, depth + 1)]
        if isinstance(x, _Fraction):
            return ["fraction", str(x.numerator), str(x.denominator)]
        if isinstance(x, _Decimal):
            return ["decimal", _Decimal.__str__(x)]
        key = id(x)
        if key in on_path:
            raise Unencodable("the returned value contains itself")
        on_path.add(key)
        try:
            if isinstance(x, dict):
                return ["dict", [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in dict.items(x)]]
            if isinstance(x, list):
                return ["list", [enc(v, depth + 1) for v in list.__iter__(x)]]
            if isinstance(x, tuple):
                return ["tuple", [enc(v, depth + 1) for v in tuple.__iter__(x)]]
            if isinstance(x, frozenset):
                return ["frozenset", [enc(v, depth + 1) for v in frozenset.__iter__(x)]]
            if isinstance(x, set):
                return ["set", [enc(v, depth + 1) for v in set.__iter__(x)]]
            if isinstance(x, _deque):
                return ["deque", [enc(v, depth + 1) for v in _deque.__iter__(x)]]
            t = type(x)
            if t is type({}.keys()):
                return ["keys", [enc(v, depth + 1) for v in x]]
            if t is type({}.values()):
                return ["values", [enc(v, depth + 1) for v in x]]
            if t is type({}.items()):
                return ["items", [[enc(k, depth + 1), enc(v, depth + 1)] for k, v in x]]
            if isinstance(x, (types.GeneratorType, map, filter, zip, enumerate, reversed)) or (
                    t.__module__ in ("builtins", "itertools") and hasattr(t, "__next__")):
                items = []
                for v in x:  # an iterator is checked as the values it yields
                    items.append(enc(v, depth + 1))
                return ["iter", items]
        finally:
            on_path.discard(key)
        raise Unencodable("the solution returned a %s object, which cannot be checked outside "
                          "its process (only built-in data types can)" % type(x).__name__)

    return enc(x, 0)


def _flush():
    for s in (sys.stdout, sys.stderr):
        try:
            s.flush()
        except BaseException:
            pass


def _send(obj):
    send_frame(RESP, json.dumps(obj).encode())


def _describe(e):
    try:
        msg = str(e)[:2000]
    except BaseException:
        msg = "<unprintable>"
    return {"type": type(e).__name__, "message": msg, "assertion": isinstance(e, AssertionError)}


def _names(namespace):
    out = {}
    for name, value in list(namespace.items())[:10000]:
        if name.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            out[name] = ["module", str(getattr(value, "__name__", ""))]
        elif callable(value):
            out[name] = ["callable"]
        else:
            try:
                out[name] = ["value", encode(value)]
            except Exception:
                pass
    return out


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):  # a proxy of one of our own names, passed back by the judge
        return module.__dict__[pid[1]]


signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past RLIMIT_FSIZE raise OSError instead
module = types.ModuleType("__sandbox__")
module.__dict__["__builtins__"] = __builtins__
sys.modules["__sandbox__"] = module
with open(workdir + "/solution.py", encoding="utf-8") as f:
    source = f.read()
if cfg["audit"]:
    sys.addaudithook(_make_hook((workdir,), cfg["network"]))
del _make_hook
try:
    exec(compile(source, "solution.py", "exec"), module.__dict__)
    loaded = {"kind": "loaded", "ok": True}
except SystemExit as e:
    sys.stderr.write("SystemExit(%r) raised before the tests finished\n" % (e.code,))
    loaded = {"kind": "loaded", "ok": False, "error": _describe(e)}
except BaseException as e:
    if isinstance(e, MemoryError):
        sys.stderr.write("MemoryError: the program exceeded the sandbox memory limit\n")
    traceback.print_exc()
    loaded = {"kind": "loaded", "ok": False, "error": _describe(e)}
del source
_flush()
if loaded["ok"]:
    try:
        loaded["names"] = _names(module.__dict__)
    except BaseException as e:
        loaded = {"kind": "loaded", "ok": False, "error": _describe(e)}
try:
    _send(loaded)
    while True:
        try:
            request = recv_frame(REQ)
        except EOFError:
            break
        try:
            op, name, args, kwargs = _Unpickler(io.BytesIO(request)).load()
            if name not in module.__dict__:
                raise NameError("name %r is not defined by the program" % name)
            value = module.__dict__[name](*args, **kwargs)
            reply = {"kind": "return", "value": encode(value)}
        except BaseException as e:
            if not isinstance(e, AssertionError):
                traceback.print_exc()
            reply = {"kind": "raise", **_describe(e)}
        _flush()
        _send(reply)
except BaseException:
    traceback.print_exc()
_flush()
_os._exit(0)
'''


# ------------------------------------------------------------------------------- the judge
# Runs the benchmark's (trusted) setup and tests in module ``__sandbox__``; the program's names
# are proxies to the runner (requests on fd 3, replies on fd 4). The verdict goes to fd 5, which
# only the harness reads.
_JUDGE = _PROTOCOL + r'''
import sys, json
cfg = json.loads(sys.argv[1])
del sys.argv[1:]
REQ, RESP, VERDICT = 3, 4, 5
workdir = cfg["workdir"]

import builtins, importlib, io, pickle, traceback, types
from collections import deque
from decimal import Decimal
from fractions import Fraction


def verdict(status, message=""):
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    send_frame(VERDICT, json.dumps({"status": status, "message": message[-2000:]}).encode())
    _os._exit(0)


class SolutionError(Exception):
    """An exception of a class the judge does not know, raised by the solution."""


class SolutionGone(Exception):
    """The solution's process ended or broke the protocol."""


def decode(obj):
    """Built-in values only: whatever the runner sends, the judge never builds its objects."""
    def dec(x, depth):
        if depth > 600:
            raise ProtocolError("a reply is nested too deeply")
        if x is None or x is True or x is False or type(x) is str:
            return x
        if type(x) is not list or not x or type(x[0]) is not str:
            raise ProtocolError("malformed value in a reply")
        tag, rest = x[0], x[1:]
        if tag == "int":
            return int(rest[0], 16)
        if tag == "float":
            return float.fromhex(rest[0])
        if tag == "complex":
            return complex(float.fromhex(rest[0]), float.fromhex(rest[1]))
        if tag in ("bytes", "bytearray"):
            return (bytes if tag == "bytes" else bytearray).fromhex(rest[0])
        if tag == "range":
            return range(dec(rest[0], depth + 1), dec(rest[1], depth + 1), dec(rest[2], depth + 1))
        if tag == "fraction":
            return Fraction(int(rest[0]), int(rest[1]))
        if tag == "decimal":
            return Decimal(rest[0])
        items = rest[0]
        if type(items) is not list:
            raise ProtocolError("malformed container in a reply")
        if tag in ("dict", "items"):
            d = {}
            for pair in items:
                if type(pair) is not list or len(pair) != 2:
                    raise ProtocolError("malformed mapping in a reply")
                d[dec(pair[0], depth + 1)] = dec(pair[1], depth + 1)
            return d if tag == "dict" else d.items()
        values = [dec(v, depth + 1) for v in items]
        if tag == "list":
            return values
        if tag == "tuple":
            return tuple(values)
        if tag == "set":
            return set(values)
        if tag == "frozenset":
            return frozenset(values)
        if tag == "deque":
            return deque(values)
        if tag == "iter":
            return iter(values)
        if tag == "keys":
            return dict.fromkeys(values).keys()
        if tag == "values":
            return dict(enumerate(values)).values()
        raise ProtocolError("unknown type %r in a reply" % tag)
    try:
        return dec(obj, 0)
    except ProtocolError:
        raise
    except Exception as e:  # unhashable set members, bad numbers, ...
        raise ProtocolError("malformed value in a reply (%s)" % type(e).__name__)


def receive():
    try:
        reply = json.loads(recv_frame(RESP))
    except EOFError:
        raise SolutionGone("the solution's process ended before the tests finished") from None
    except (ValueError, ProtocolError) as e:
        raise SolutionGone("the solution's process broke the protocol: %s" % e) from None
    if type(reply) is not dict:
        raise SolutionGone("the solution's process broke the protocol")
    return reply


class Remote:
    """A name of the program: calling it runs the solution's function in the runner."""

    def __init__(self, name):
        self.__name__ = self.__qualname__ = name

    def __repr__(self):
        return "<solution function %s>" % self.__name__

    def __call__(self, *args, **kwargs):
        buf = io.BytesIO()
        try:
            _Pickler(buf, protocol=5).dump(("call", self.__name__, args, kwargs))
        except Exception as e:
            raise TypeError("sandbox: cannot pass these arguments to the solution: %s" % e) from None
        try:
            send_frame(REQ, buf.getvalue())
        except OSError:
            raise SolutionGone("the solution's process ended before the tests finished") from None
        reply = receive()
        kind = reply.get("kind")
        if kind == "return":
            try:
                return decode(reply.get("value"))
            except ProtocolError as e:
                raise SolutionGone("the solution's process broke the protocol: %s" % e) from None
        if kind == "raise":
            name, message = str(reply.get("type")), str(reply.get("message"))
            cls = getattr(builtins, name, None)
            exc = None
            if isinstance(cls, type) and issubclass(cls, Exception) and not issubclass(cls, OSError):
                try:
                    exc = cls(message)
                except Exception:  # exception classes whose constructors need more arguments
                    exc = None
            if exc is not None:
                raise exc
            raise SolutionError("%s: %s" % (name, message))
        raise SolutionGone("the solution's process broke the protocol")


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if type(obj) is Remote:
            return ("remote", obj.__name__)
        return None


try:
    loaded = receive()
except SolutionGone as e:
    verdict("error", str(e))
if loaded.get("kind") != "loaded":
    verdict("error", "the solution's process broke the protocol")
if not loaded.get("ok"):
    error = loaded.get("error") if type(loaded.get("error")) is dict else {}
    message = "the program raised %s: %s" % (error.get("type"), error.get("message"))
    verdict("failed" if error.get("assertion") is True else "error", message)

module = types.ModuleType("__sandbox__")
namespace = module.__dict__
namespace["__builtins__"] = builtins
sys.modules["__sandbox__"] = module
try:
    with open(workdir + "/setup.py", encoding="utf-8") as f:
        exec(compile(f.read(), "setup.py", "exec"), namespace)
except BaseException as e:
    traceback.print_exc()
    verdict("error", "the benchmark's setup code raised %s" % type(e).__name__)
names = loaded.get("names") if type(loaded.get("names")) is dict else {}
for name, kind in names.items():
    # never shadow a built-in or a name of the trusted setup code
    if type(name) is not str or not name.isidentifier() or name in namespace or hasattr(builtins, name):
        continue
    if type(kind) is not list or not kind:
        continue
    try:
        if kind[0] == "callable":
            namespace[name] = Remote(name)
        elif kind[0] == "module" and type(kind[1]) is str:
            namespace[name] = importlib.import_module(kind[1])
        elif kind[0] == "value":
            namespace[name] = decode(kind[1])
    except Exception:
        pass  # a module the judge cannot import, a malformed value: the name stays undefined

try:
    with open(workdir + "/tests.py", encoding="utf-8") as f:
        tests = f.read()
    exec(compile(tests, "tests.py", "exec"), namespace)
except AssertionError as e:
    traceback.print_exc()
    verdict("failed", "a test failed: %s" % (traceback.format_exception_only(type(e), e)[-1].strip(),))
except SolutionGone as e:
    verdict("error", str(e))
except BaseException as e:
    traceback.print_exc()
    verdict("error", "the tests raised %s" % (traceback.format_exception_only(type(e), e)[-1].strip(),))
verdict("passed")
'''


# ----------------------------------------------------------------------------- parent side
def _pids_cgroup_root() -> Path | None:
    """A writable cgroup directory with a pids controller below our own cgroup, or None.

    Sandboxes are created as children of the cgroup this process is in, so they never leave
    the limits of the container or job that runs the harness.
    """
    v1: list[Path] = []
    v2: list[Path] = []
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, rel = line.split(":", 2)
            rel = rel.lstrip("/")
            if controllers == "":  # cgroup v2 (unified)
                v2.append(Path("/sys/fs/cgroup") / rel)
            elif "pids" in controllers.split(","):  # cgroup v1 pids hierarchy
                v1.append(Path("/sys/fs/cgroup") / controllers / rel)
    except (OSError, ValueError):
        return None
    for c in v1:
        if c.is_dir() and os.access(c, os.W_OK):
            return c
    for c in v2:
        try:
            if os.access(c, os.W_OK) and "pids" in (c / "cgroup.subtree_control").read_text().split():
                return c
        except OSError:
            continue
    return None


def _sweep_stale_cgroups(root: Path, age_s: float = 3600) -> None:
    """Removes sandbox cgroups left by a harness that was killed (kill -9) before its cleanup:
    only old ones, and the kernel refuses to remove a cgroup that still has a process."""
    now = time.time()
    for cg in root.glob("avengers-sandbox-*"):
        with contextlib.suppress(OSError):
            if now - cg.stat().st_mtime > age_s:
                cg.rmdir()


def _make_cgroup(max_processes: int) -> Path | None:
    root = _pids_cgroup_root()
    if root is None:
        return None
    _sweep_stale_cgroups(root)
    cg = root / f"avengers-sandbox-{uuid.uuid4().hex[:12]}"
    try:
        cg.mkdir()
        (cg / "pids.max").write_text(str(int(max_processes)))
        return cg
    except OSError:
        with contextlib.suppress(OSError):
            cg.rmdir()
        return None


def _cgroup_pids(cg: Path) -> list[int]:
    try:
        return [int(x) for x in (cg / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_cgroup(cg: Path | None) -> None:
    if cg is None:
        return
    for _ in range(100):
        pids = _cgroup_pids(cg)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    for _ in range(100):
        try:
            cg.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)


def _tail(path: Path, n: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _read_all(fd: int, limit: int = 1 << 20) -> bytes:
    """Everything left in a pipe whose writers have all exited (non-blocking, bounded)."""
    os.set_blocking(fd, False)
    chunks, total = [], 0
    while total < limit:
        try:
            b = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not b:
            break
        chunks.append(b)
        total += len(b)
    return b"".join(chunks)


_PREFIXES: dict[str, list[str]] = {}


def _python_dirs(python: str) -> list[str]:
    """The directories the interpreter needs (its installation and virtualenv), outside /usr."""
    if python not in _PREFIXES:
        if os.path.realpath(python) == os.path.realpath(sys.executable):
            dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
        else:
            out = subprocess.run(
                [python, "-I", "-c", "import sys; print(sys.prefix); print(sys.base_prefix); print(sys.exec_prefix); print(sys.base_exec_prefix)"],
                capture_output=True, text=True, timeout=30, check=True,
            ).stdout
            dirs = set(out.split())
        dirs.add(os.path.dirname(os.path.dirname(os.path.realpath(python))))
        dirs.add(os.path.dirname(os.path.abspath(python)))
        keep = ["/usr"]
        for d in sorted(os.path.realpath(d) if os.path.islink(d) else os.path.abspath(d) for d in dirs):
            if d in ("/", "") or not os.path.isdir(d):
                continue
            if not any(d == k or d.startswith(k.rstrip("/") + "/") for k in keep):
                keep.append(d)
        _PREFIXES[python] = keep
    return _PREFIXES[python]


#: non-secret files of /etc the interpreter may need (the loader cache above all)
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "alternatives", "mime.types")
_ETC_NETWORK = ("resolv.conf", "gai.conf", "host.conf", "ssl", "ca-certificates")

_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONIOENCODING": "utf-8",
    # one BLAS / OpenMP thread: keeps numpy's import inside the address-space limit
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class _Box:
    """One sandboxed process: its launcher, files, pipes and cgroup."""

    def __init__(self, role: str, base: Path, python: str, limits: SandboxLimits, files: dict[str, str],
                 bootstrap: str, bootstrap_cfg: dict, keep_fds: list[int], uid: int, fault: str | None):
        self.role = role
        self.dir = base / role
        self.dir.mkdir()
        (self.dir / "root").mkdir()
        self.workdir = str(base / f"{role}-work")  # exists only inside the sandbox
        for name, text in files.items():
            (self.dir / name).write_text(text, encoding="utf-8")
        self.stdout_path, self.stderr_path = self.dir / "stdout.txt", self.dir / "stderr.txt"
        self.status_r, status_w = os.pipe()
        root = os.geteuid() == 0
        self.cgroup = _make_cgroup(limits.max_processes + 2) if root else None  # + launcher, init
        cpu = limits.cpu_seconds or int(limits.timeout) + 2
        env = dict(_ENV, HOME=self.workdir, TMPDIR=self.workdir, TMP=self.workdir, TEMP=self.workdir)
        cfg = {
            "status_fd": status_w,
            "parent_pid": os.getpid(),
            "keep_fds": keep_fds,
            "cgroup_procs": str(self.cgroup / "cgroup.procs") if self.cgroup is not None else None,
            "network": bool(limits.network),
            "switch_user": root,
            "uid": uid if root else 0,
            "gid": uid if root else 0,
            "tmpfs_uid": uid if root else 0,
            "tmpfs_gid": uid if root else 0,
            "outer_uid": os.geteuid(),
            "outer_gid": os.getegid(),
            "root": str(self.dir / "root"),
            "workdir": self.workdir,
            "ro_dirs": _python_dirs(python),
            "etc_files": list(_ETC_FILES + (_ETC_NETWORK if limits.network else ())),
            "files": {name: str(self.dir / name) for name in files},
            "disk_kb": int(limits.max_disk_mb) * 1024,
            "memory_bytes": int(limits.memory_mb) * 1024 * 1024,
            "cpu_seconds": int(cpu),
            "file_bytes": int(limits.max_file_mb) * 1024 * 1024,
            "max_processes": int(limits.max_processes),
            "python": python,
            "env": env,
            "bootstrap": bootstrap,
            "bootstrap_cfg": json.dumps({**bootstrap_cfg, "workdir": self.workdir}),
            "fault": fault,
        }
        self.proc: subprocess.Popen | None = None
        try:
            with open(self.stdout_path, "wb") as fo, open(self.stderr_path, "wb") as fe:
                self.proc = subprocess.Popen(
                    [python, "-I", "-S", "-B", "-c", _LAUNCHER, json.dumps(cfg)],
                    stdin=subprocess.DEVNULL, stdout=fo, stderr=fe, env=_ENV, close_fds=True,
                    pass_fds=(status_w, *keep_fds), start_new_session=True,
                )
        finally:
            os.close(status_w)

    def wait(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout=max(timeout, 0))
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill(self) -> None:
        """Kills the launcher; its init follows (PDEATHSIG) and with it the whole namespace."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                self.proc.kill()
        _kill_cgroup(self.cgroup)
        self.cgroup = None
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)

    def status(self) -> tuple[str | None, int | None]:
        """('setup-error', message) or ('exit', wait status) or (None, None)."""
        text = _read_all(self.status_r).decode("utf-8", "replace")
        os.close(self.status_r)
        self.status_r = -1
        for line in text.splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "setup-error":
                return kind, rest
            if kind == "exit":
                with contextlib.suppress(ValueError):
                    return kind, int(rest)
        return None, None

    def close(self) -> None:
        self.kill()
        if self.status_r >= 0:
            os.close(self.status_r)
            self.status_r = -1


def _sandbox_ids(n: int) -> list[int]:
    return random.SystemRandom().sample(range(*_SANDBOX_ID_RANGE), n)


def _refusal(detail: str) -> SandboxUnavailable:
    return SandboxUnavailable(
        "the code sandbox cannot isolate model-written code on this machine, so it ran nothing "
        f"({detail}). It needs Linux mount, PID and network namespaces (plus user namespaces when "
        "not run as root): `unshare --user --map-root-user --mount --pid --fork --net true` must "
        "succeed. Fix: run code grading on a Linux host or VM that allows them (in Docker, allow "
        "the unshare and mount system calls, e.g. --security-opt seccomp=unconfined "
        "--security-opt apparmor=unconfined, or --privileged on a throwaway machine), or leave "
        "code benchmarks out of this run."
    )


def run_tests(
    program: str,
    tests: str,
    limits: SandboxLimits | None = None,
    *,
    setup: str = "",
    python: str | None = None,
    tail_chars: int = 4000,
    _audit_hook: bool = True,
    _fault: str | None = None,
) -> SandboxResult:
    """Run ``program`` (the model's code) and judge it with ``tests`` (assert statements, a
    ``check(...)`` call) in a separate process; ``setup`` is trusted code both run first.

    passed: the tests ran to the end without an exception, as seen by the judge.
    ``_audit_hook=False`` and ``_fault`` are for tests of the sandbox only.
    """
    if sys.platform != "linux":
        raise _refusal(f"the platform is {sys.platform}, not Linux")
    limits = limits or SandboxLimits()
    python = python or sys.executable
    base = Path(tempfile.mkdtemp(prefix="avengers-sandbox-"))
    boxes: list[_Box] = []
    fds: list[int] = []
    start = time.monotonic()
    try:
        req_r, req_w = os.pipe()  # judge -> runner: calls
        resp_r, resp_w = os.pipe()  # runner -> judge: values
        verdict_r, verdict_w = os.pipe()  # judge -> harness: the verdict
        fds[:] = [req_r, req_w, resp_r, resp_w, verdict_r, verdict_w]
        uid_runner, uid_judge = _sandbox_ids(2)
        runner = _Box("runner", base, python, limits, {"solution.py": setup.rstrip() + "\n\n" + program if setup.strip() else program},
                      _RUNNER, {"audit": bool(_audit_hook), "network": bool(limits.network)},
                      [req_r, resp_w], uid_runner, _fault)
        boxes.append(runner)
        judge = _Box("judge", base, python, limits, {"tests.py": tests, "setup.py": setup},
                     _JUDGE, {}, [req_w, resp_r, verdict_w], uid_judge, _fault)
        boxes.append(judge)
        for fd in (req_r, req_w, resp_r, resp_w, verdict_w):  # only the sandboxes hold these now
            os.close(fd)
            fds.remove(fd)

        judged = judge.wait(start + limits.timeout - time.monotonic())
        timed_out = not judged
        # the runner ends by itself once the judge has gone; a short grace for its exit status
        runner_done = runner.wait(min(3.0, start + limits.timeout - time.monotonic()) if judged else 0)
        for box in boxes:
            box.kill()
        duration = time.monotonic() - start
        verdict_raw = _read_all(verdict_r) if judged else b""
        judge_status = judge.status()
        runner_status = runner.status()
        for kind, detail in (runner_status, judge_status):
            if kind == "setup-error":
                raise _refusal(str(detail))
        out_run = _tail(runner.stdout_path, tail_chars)
        err_run = _tail(runner.stderr_path, tail_chars)
        out_judge = _tail(judge.stdout_path, tail_chars)
        err_judge = _tail(judge.stderr_path, tail_chars)
    finally:
        for box in boxes:
            box.close()
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(base, ignore_errors=True)

    returncode = None
    if runner_status[0] == "exit" and runner_done:
        st = runner_status[1]
        returncode = os.waitstatus_to_exitcode(st) if st is not None else None
    verdict: dict = {}
    if len(verdict_raw) >= 8:
        with contextlib.suppress(ValueError, UnicodeDecodeError):
            parsed = json.loads(verdict_raw[8:])
            if isinstance(parsed, dict):
                verdict = parsed
    notes: list[str] = []
    status = verdict.get("status") if verdict.get("status") in ("passed", "failed", "error") else None
    message = str(verdict.get("message") or "")
    if timed_out:
        status = "timeout"
        notes.append(f"sandbox: killed after the {limits.timeout:g} s time limit")
    elif returncode is not None and returncode < 0 and status != "passed":
        status = "killed"
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        notes.append(f"sandbox: the program was killed by signal {name}")
    elif status is None:
        status = "error"
        notes.append("sandbox: the judge gave no verdict (it crashed or ran out of resources)")
    if status in ("error", "failed") and message:
        notes.append(f"sandbox: {message}")
    stdout = out_run + (("\n" + out_judge) if out_judge.strip() else "")
    stderr = "\n".join(s for s in (err_run.strip(), err_judge.strip(), *notes) if s)
    return SandboxResult(
        passed=status == "passed",
        status=status,
        returncode=returncode,
        stdout=stdout[-tail_chars:],
        stderr=stderr[-tail_chars:],
        duration=round(duration, 4),
        workdir=runner.workdir,
    )


def run_python(
    source: str,
    limits: SandboxLimits | None = None,
    *,
    python: str | None = None,
    tail_chars: int = 4000,
    _audit_hook: bool = True,
    _fault: str | None = None,
) -> SandboxResult:
    """Run ``source`` in the sandbox; passed means it ran to the end without an exception.

    With no tests to judge, "passed" is the program's own report: graders use :func:`run_tests`.
    """
    return run_tests(source, "", limits, python=python, tail_chars=tail_chars, _audit_hook=_audit_hook, _fault=_fault)


_CAPS: dict | None = None


def sandbox_capabilities() -> dict:
    """Which containment layers this machine offers (probed once, cached)."""
    global _CAPS
    if _CAPS is None:
        cg = _make_cgroup(4) if os.geteuid() == 0 else None
        has_cg = cg is not None
        _kill_cgroup(cg)
        try:
            isolated = run_python("pass", SandboxLimits(timeout=30)).passed
            reason = None if isolated else "the probe program did not pass"
        except SandboxUnavailable as e:
            isolated, reason = False, str(e)
        _CAPS = {
            "namespaces": isolated,
            "refusal": reason,
            "pids_cgroup": has_cg,
            "root": os.geteuid() == 0,
            "audit_hook": hasattr(sys, "addaudithook"),
        }
    return _CAPS
