"""Run model-written Python against its tests in a separate, locked-down process.

Layers of containment, each one a fallback for the others:

* a separate interpreter (``python -I -B``: isolated mode, no bytecode written), in its own
  session so the whole process group is killed on timeout;
* a fresh temporary working directory (also HOME and TMPDIR), deleted afterwards; stdout and
  stderr go to files outside it and only their tails are kept;
* resource limits set in the child before any model code runs: address space (RLIMIT_AS),
  CPU seconds (RLIMIT_CPU), file size (RLIMIT_FSIZE), process count (RLIMIT_NPROC, which the
  kernel does not enforce for root), no core dumps;
* a ``pids`` cgroup capping the number of processes when the cgroup filesystem is writable
  (the containment for fork bombs that works for root); skipped silently otherwise;
* a private network namespace (``unshare(CLONE_NEWNET)``) when the kernel allows it;
* an audit hook (``sys.addaudithook``) installed before the model's code runs, which cannot be
  removed afterwards: it blocks sockets, fork/exec/spawn/subprocess, signals to other
  processes, ctypes, raising resource limits, and every write, delete, rename, chmod or mkdir
  outside the working directory.

An audit hook is not a security boundary against a determined attacker; together with the
limits above it contains the accidents and the usual attacks (infinite loops, fork bombs, huge
allocations, stray writes, network access) that model-written code produces.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SandboxLimits", "SandboxResult", "run_python", "run_tests", "sandbox_capabilities"]

STATUSES = ("passed", "failed", "timeout", "error", "killed")

# exit codes used by the bootstrap below
_EXIT_ASSERTION = 11
_EXIT_EXCEPTION = 12
_EXIT_VIOLATION = 13
_EXIT_MEMORY = 14
_EXIT_SYSTEMEXIT = 15
_EXIT_SETUP = 16


@dataclass(frozen=True)
class SandboxLimits:
    timeout: float = 10.0  # wall-clock seconds
    memory_mb: int = 1024  # RLIMIT_AS
    cpu_seconds: int | None = None  # RLIMIT_CPU; default: ceil(timeout) + 1
    max_processes: int = 16  # cgroup pids.max and RLIMIT_NPROC
    max_file_mb: int = 16  # RLIMIT_FSIZE (also caps stdout / stderr)
    network: bool = False  # True keeps the network (not recommended)


@dataclass(frozen=True)
class SandboxResult:
    passed: bool
    status: str  # 'passed' | 'failed' | 'timeout' | 'error' | 'killed'
    returncode: int | None
    stdout: str  # tail
    stderr: str  # tail
    duration: float  # seconds
    workdir: str  # the (already deleted) working directory

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "status": self.status,
            "returncode": self.returncode,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "duration": self.duration,
        }


# ----------------------------------------------------------------------------- child side
# Runs in the child as `python -I -B -c _BOOTSTRAP <config-json>`. Kept free of f-strings of
# the parent so that it can be read on its own.
_BOOTSTRAP = r'''
import sys, os, json
cfg = json.loads(sys.argv[1])
del sys.argv[1:]
nonce = cfg["nonce"]
workdir = cfg["workdir"]

def _setup():
    import resource, signal
    if cfg.get("cgroup"):
        try:
            with open(cfg["cgroup"], "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            pass
    if cfg.get("unshare_net"):
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            libc.unshare(0x40000000)  # CLONE_NEWNET; failure leaves the audit hook in charge
            del libc
        except Exception:
            pass
    def lim(which, value):
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass
    lim(resource.RLIMIT_AS, cfg["memory_bytes"])
    lim(resource.RLIMIT_CPU, cfg["cpu_seconds"])
    lim(resource.RLIMIT_FSIZE, cfg["file_bytes"])
    lim(resource.RLIMIT_NPROC, cfg["max_processes"])
    lim(resource.RLIMIT_CORE, 0)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes raise OSError instead
    os.chdir(workdir)

try:
    _setup()
    with open(os.path.join(workdir, cfg["program"]), encoding="utf-8") as f:
        source = f.read()
except BaseException as e:
    sys.stderr.write("sandbox setup failed: %r\n" % (e,))
    sys.stderr.flush()
    os._exit(16)


def _make_hook(roots, allow_network,
               _isinstance=isinstance, _str=str, _bytes=bytes, _int=int, _tuple=tuple,
               _fspath=os.fspath, _getcwd=os.getcwd, _len=len,
               _O_W=os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC):
    class SandboxViolation(PermissionError):
        pass

    always = (
        "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system",
        "os.kill", "os.killpg", "os.symlink", "os.link", "os.chroot", "os.setuid",
        "subprocess.Popen", "pty.spawn", "ctypes.", "resource.setrlimit", "resource.prlimit",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
        "webbrowser.open", "_posixsubprocess",
    )
    if not allow_network:
        always = always + ("socket.", "urllib.Request", "http.client.connect", "ftplib.",
                           "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.")
    blocked_imports = ("_posixsubprocess", "_ctypes", "ctypes")
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

    return hook, SandboxViolation


try:
    _hook, _Violation = _make_hook(tuple(cfg["roots"]), cfg["network"])
    if cfg.get("audit", True):
        sys.addaudithook(_hook)
    del _hook, _make_hook
except BaseException as e:
    sys.stderr.write("sandbox setup failed: %r\n" % (e,))
    sys.stderr.flush()
    os._exit(16)

import traceback as _tb

def _run(source, nonce):
    g = {"__name__": "__sandbox__", "__builtins__": __builtins__}
    try:
        code = compile(source, "solution.py", "exec")
        exec(code, g)
    except AssertionError:
        _tb.print_exc()
        return 11
    except _Violation:
        _tb.print_exc()
        return 13
    except MemoryError:
        sys.stderr.write("MemoryError: the program exceeded the sandbox memory limit\n")
        return 14
    except SystemExit as e:
        sys.stderr.write("SystemExit(%r) raised before the tests finished\n" % (e.code,))
        return 15
    except BaseException as e:
        if isinstance(e.__context__, _Violation) or "sandbox:" in repr(e):
            _tb.print_exc()
            return 13
        _tb.print_exc()
        return 12
    sys.stdout.flush()
    sys.stdout.write("\n" + nonce + "\n")
    sys.stdout.flush()
    return 0

_rc = _run(source, nonce)
del source, nonce, cfg
try:
    sys.stdout.flush()
    sys.stderr.flush()
except BaseException:
    pass
os._exit(_rc)
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


def _make_cgroup(max_processes: int) -> Path | None:
    root = _pids_cgroup_root()
    if root is None:
        return None
    cg = root / f"avengers-sandbox-{uuid.uuid4().hex[:12]}"
    try:
        cg.mkdir()
        (cg / "pids.max").write_text(str(int(max_processes)))
        return cg
    except OSError:
        try:
            cg.rmdir()
        except OSError:
            pass
        return None


def _cgroup_pids(cg: Path) -> list[int]:
    try:
        return [int(x) for x in (cg / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_cgroup(cg: Path | None) -> None:
    if cg is None:
        return
    for _ in range(50):
        pids = _cgroup_pids(cg)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)
    for _ in range(50):
        try:
            cg.rmdir()
            return
        except OSError:
            time.sleep(0.02)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def _tail(path: Path, n: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


_CAPS: dict | None = None


def sandbox_capabilities() -> dict:
    """Which optional containment layers this machine offers (cached)."""
    global _CAPS
    if _CAPS is None:
        cg = _make_cgroup(4)
        has_cg = cg is not None
        _kill_cgroup(cg)
        _CAPS = {
            "pids_cgroup": has_cg,
            "root": hasattr(os, "geteuid") and os.geteuid() == 0,
            "audit_hook": hasattr(sys, "addaudithook"),
        }
    return _CAPS


def run_python(
    source: str,
    limits: SandboxLimits | None = None,
    *,
    python: str | None = None,
    tail_chars: int = 4000,
    _audit_hook: bool = True,
) -> SandboxResult:
    """Run ``source`` in the sandbox; passed means it ran to the end without an exception.

    ``_audit_hook=False`` is for tests of the other containment layers only.
    """
    if sys.platform != "linux":  # resource limits / audit semantics are only checked on Linux
        raise RuntimeError("the code sandbox supports Linux only")
    limits = limits or SandboxLimits()
    python = python or sys.executable
    cpu = limits.cpu_seconds or int(limits.timeout) + 2
    base = Path(tempfile.mkdtemp(prefix="avengers-sandbox-"))
    work = base / "work"
    work.mkdir()
    (work / "solution.py").write_text(source, encoding="utf-8")
    out_path, err_path = base / "stdout.txt", base / "stderr.txt"
    cg = _make_cgroup(limits.max_processes)
    nonce = "__avengers_sandbox_ok_" + secrets.token_hex(16)
    roots = sorted({str(work), os.path.realpath(work)})
    cfg = {
        "nonce": nonce,
        "workdir": str(work),
        "program": "solution.py",
        "roots": roots,
        "network": bool(limits.network),
        "unshare_net": not limits.network,
        "cgroup": str(cg / "cgroup.procs") if cg is not None else None,
        "memory_bytes": int(limits.memory_mb) * 1024 * 1024,
        "cpu_seconds": int(cpu),
        "file_bytes": int(limits.max_file_mb) * 1024 * 1024,
        "max_processes": int(limits.max_processes),
        "audit": bool(_audit_hook),
    }
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(work),
        "TMPDIR": str(work),
        "TMP": str(work),
        "TEMP": str(work),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "utf-8",
        # one BLAS / OpenMP thread: keeps numpy's import inside the address-space limit
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    start = time.monotonic()
    timed_out = False
    rc: int | None = None
    try:
        with open(out_path, "wb") as fo, open(err_path, "wb") as fe:
            proc = subprocess.Popen(
                [python, "-I", "-B", "-c", _BOOTSTRAP, json.dumps(cfg)],
                stdin=subprocess.DEVNULL,
                stdout=fo,
                stderr=fe,
                cwd=str(work),
                env=env,
                close_fds=True,
                start_new_session=True,
            )
            try:
                rc = proc.wait(timeout=limits.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc.pid)
                _kill_cgroup(cg)
                cg = None
                try:
                    rc = proc.wait(timeout=5)
                except subprocess.TimeoutExpired:  # pragma: no cover - unkillable child
                    rc = None
        duration = time.monotonic() - start
        stdout = _tail(out_path, tail_chars + len(nonce) + 2)
        stderr = _tail(err_path, tail_chars)
    finally:
        _kill_cgroup(cg)
        shutil.rmtree(base, ignore_errors=True)

    finished = stdout.rstrip().endswith(nonce)
    if finished:
        stdout = stdout.rstrip()[: -len(nonce)].rstrip("\n")
    stdout = stdout[-tail_chars:]
    if timed_out:
        status = "timeout"
        stderr = (stderr + f"\nsandbox: killed after the {limits.timeout:g} s time limit").strip()
    elif rc is None or rc < 0:
        status = "killed"
        if rc is not None:
            try:
                name = signal.Signals(-rc).name
            except ValueError:
                name = str(-rc)
            stderr = (stderr + f"\nsandbox: killed by signal {name}").strip()
    elif rc == 0 and finished:
        status = "passed"
    elif rc == 0:
        status = "error"
        stderr = (stderr + "\nsandbox: the program exited before the tests finished").strip()
    elif rc == _EXIT_ASSERTION:
        status = "failed"
    else:
        status = "error"
    return SandboxResult(
        passed=status == "passed",
        status=status,
        returncode=rc,
        stdout=stdout,
        stderr=stderr[-tail_chars:],
        duration=round(duration, 4),
        workdir=str(work),
    )


def run_tests(program: str, tests: str, limits: SandboxLimits | None = None, **kw) -> SandboxResult:
    """Run ``program`` followed by ``tests`` (assert statements / a check function call)."""
    return run_python(program.rstrip() + "\n\n" + tests.strip() + "\n", limits, **kw)
