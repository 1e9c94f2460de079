"""The code-grading sandbox contains the usual attacks of model-written code.

Each attack runs under a short timeout; afterwards no process of the run may be left and nothing
may have been written outside its (deleted) working directory.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from avengers.generate.sandbox import SandboxLimits, run_python, run_tests, sandbox_capabilities

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only")

FAST = SandboxLimits(timeout=5.0)


def _leftover_processes(workdir: str) -> list[int]:
    """Processes whose command line still mentions the run's working directory."""
    found = []
    needle = workdir.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if needle in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def _assert_cleaned(res) -> None:
    time.sleep(0.1)
    assert not Path(res.workdir).exists()
    assert _leftover_processes(res.workdir) == []


def test_passing_program():
    res = run_tests("def f(x):\n    return x + 1\nprint('hello')", "assert f(1) == 2")
    assert res.passed and res.status == "passed" and res.returncode == 0
    assert res.stdout.strip() == "hello"
    assert res.duration < 5
    _assert_cleaned(res)


def test_failed_assertion_and_errors():
    res = run_tests("def f(x):\n    return x", "assert f(1) == 2, 'wrong'", FAST)
    assert res.status == "failed" and not res.passed and "AssertionError" in res.stderr
    res = run_python("def f(:\n    pass", FAST)
    assert res.status == "error" and "SyntaxError" in res.stderr
    res = run_python("raise ValueError('boom')", FAST)
    assert res.status == "error" and "boom" in res.stderr
    res = run_python("x = input()", FAST)  # stdin is empty
    assert res.status == "error" and "EOFError" in res.stderr


def test_infinite_loop_times_out():
    t = time.monotonic()
    res = run_python("while True:\n    pass", SandboxLimits(timeout=1.5))
    assert res.status == "timeout" and not res.passed
    assert time.monotonic() - t < 10
    _assert_cleaned(res)


def test_fork_bomb_is_blocked():
    bomb = "import os\nwhile True:\n    os.fork()\n"
    res = run_python(bomb, SandboxLimits(timeout=3))
    assert not res.passed and res.status == "error"
    assert "os.fork" in res.stderr
    _assert_cleaned(res)
    for attack in (
        "import subprocess\nsubprocess.Popen(['sleep', '30'])",
        "import os\nos.system('sleep 30')",
        "import os\nos.posix_spawn('/bin/sleep', ['sleep', '30'], {})",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()",
        "import ctypes\nctypes.CDLL(None).fork()",
        "import _posixsubprocess",
        "import pty\npty.fork()",
        "import os\nos.execv('/bin/sleep', ['sleep', '30'])",
    ):
        res = run_python(attack, SandboxLimits(timeout=3))
        assert not res.passed and res.status == "error", attack
        assert "sandbox:" in res.stderr, attack
        _assert_cleaned(res)


def test_fork_bomb_contained_without_the_audit_hook():
    """The layers behind the audit hook (pids cgroup / RLIMIT_NPROC, process-group kill)."""
    caps = sandbox_capabilities()
    if caps["root"] and not caps["pids_cgroup"]:
        pytest.skip("root without a writable pids cgroup: RLIMIT_NPROC is not enforced")
    # bounded (at most 2**7 processes even with no limit at all); every process reports, sleeps
    bomb = (
        "import os, sys, time\n"
        "for _ in range(7):\n"
        "    try:\n"
        "        os.fork()\n"
        "    except OSError:\n"
        "        pass\n"
        "sys.stdout.write('P\\n')\n"
        "sys.stdout.flush()\n"
        "time.sleep(60)\n"
    )
    res = run_python(bomb, SandboxLimits(timeout=2, max_processes=8), _audit_hook=False)
    assert not res.passed and res.status in ("timeout", "killed")
    assert 1 <= res.stdout.count("P") <= 8  # the process cap held
    _assert_cleaned(res)


def test_huge_allocation_is_contained():
    res = run_python("x = bytearray(10 * 1024 ** 3)\nassert x", SandboxLimits(timeout=5, memory_mb=512))
    assert not res.passed and res.status in ("error", "killed")
    assert "MemoryError" in res.stderr or res.status == "killed"
    res = run_python("x = [0] * (10 ** 10)", SandboxLimits(timeout=5, memory_mb=512))
    assert not res.passed and res.status in ("error", "killed")
    _assert_cleaned(res)


def test_writes_outside_the_workdir_are_blocked(tmp_path):
    target = tmp_path / f"escape-{uuid.uuid4().hex}.txt"
    keep = tmp_path / "keep.txt"
    keep.write_text("precious")
    attacks = [
        f"open({str(target)!r}, 'w').write('x')",
        f"open({str(target)!r}, 'a').write('x')",
        f"import os\nfd = os.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
        f"from pathlib import Path\nPath({str(target)!r}).write_text('x')",
        f"import os\nos.chdir('/')\nopen({str(target)[1:]!r}, 'w')",
        f"open('../../' * 20 + {str(target)[1:]!r}, 'w')",
        f"import os\nos.remove({str(keep)!r})",
        f"import os\nos.rename({str(keep)!r}, {str(target)!r})",
        f"import shutil\nshutil.rmtree({str(tmp_path)!r})",
        f"import os\nos.mkdir({str(tmp_path / 'newdir')!r})",
        f"import os\nos.chmod({str(keep)!r}, 0o777)",
        f"import os\nos.symlink({str(keep)!r}, 'link')\nopen('link', 'w').write('x')",
        "import os\nos.kill(os.getppid(), 9)",
    ]
    for code in attacks:
        res = run_python(code, FAST)
        assert not res.passed and res.status == "error", code
        assert "sandbox:" in res.stderr, code
    assert not target.exists()
    assert keep.read_text() == "precious"
    assert not (tmp_path / "newdir").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_writes_inside_the_workdir_are_allowed_and_removed():
    code = (
        "import os, tempfile\n"
        "open('out.txt', 'w').write('ok')\n"
        "os.mkdir('sub')\n"
        "with tempfile.NamedTemporaryFile('w', delete=False) as f:\n"
        "    f.write('tmp')\n"
        "assert f.name.startswith(os.getcwd()), f.name\n"
        "assert os.environ['HOME'] == os.getcwd()\n"
        "assert open('out.txt').read() == 'ok'\n"
    )
    res = run_python(code, FAST)
    assert res.passed, res.stderr
    _assert_cleaned(res)


def test_file_size_is_limited():
    res = run_python("open('big.bin', 'wb').write(b'0' * (64 * 1024 * 1024))", SandboxLimits(timeout=5, max_file_mb=4))
    assert not res.passed and res.status in ("error", "killed")
    res = run_python("while True:\n    print('x' * 10000)", SandboxLimits(timeout=5, max_file_mb=2))
    assert not res.passed and len(res.stdout) <= 4000
    _assert_cleaned(res)


def test_network_is_blocked():
    for code in (
        "import socket\ns = socket.socket()\ns.connect(('127.0.0.1', 9))",
        "import socket\nsocket.create_connection(('example.com', 80), timeout=1)",
        "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=1)",
    ):
        res = run_python(code, FAST)
        assert not res.passed and res.status == "error", code
        assert "sandbox:" in res.stderr, code
    # the network namespace alone (no audit hook) leaves no route out
    res = run_python(
        "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('1.1.1.1', 80))",
        SandboxLimits(timeout=8),
        _audit_hook=False,
    )
    assert not res.passed


def test_exit_before_the_tests_is_not_a_pass():
    for code in ("import sys\nsys.exit(0)", "import os\nos._exit(0)", "exit()", "raise SystemExit"):
        res = run_tests(code, "assert False", FAST)
        assert not res.passed and res.status == "error", code


def test_child_sees_no_parent_environment(monkeypatch):
    monkeypatch.setenv("AVENGERS_TEST_SECRET", "s3cret")
    res = run_python("import os\nassert 'AVENGERS_TEST_SECRET' not in os.environ\nprint(sorted(os.environ))", FAST)
    assert res.passed, res.stderr
    assert "s3cret" not in res.stdout


def test_parallel_runs():
    src = "import time\ntime.sleep(0.2)\nassert sum(range(10)) == 45"
    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda _: run_python(src, FAST), range(6)))
    assert all(r.passed for r in results), [r.stderr for r in results]


# ------------------------------------------------------------------------------------------
# Issue 12: every attack of the report, each with the audit hook off as well, so that it is the
# kernel's isolation (namespaces, a private read-only filesystem, no capabilities) that holds.
from avengers.generate import sandbox as sandbox_mod  # noqa: E402
from avengers.generate.sandbox import SandboxUnavailable  # noqa: E402

BOTH = pytest.mark.parametrize("hook", [True, False], ids=["audit-hook", "kernel-only"])

_ATTEMPT = (
    "import os, sys\n"
    "results = {}\n"
    "def attempt(name, fn):\n"
    "    try:\n"
    "        fn()\n"
    "        results[name] = 'SUCCEEDED'\n"
    "    except BaseException as e:\n"
    "        results[name] = 'refused: ' + type(e).__name__\n"
)


@pytest.fixture
def tracked(tmp_path, monkeypatch):
    """Temporary folders and cgroups of the runs made in a test, to check none is left behind."""
    tmp = tmp_path / "sandbox-tmp"
    tmp.mkdir()
    monkeypatch.setattr(sandbox_mod.tempfile, "tempdir", str(tmp))
    made: list[Path] = []
    real = sandbox_mod._make_cgroup

    def make(n):
        cg = real(n)
        if cg is not None:
            made.append(cg)
        return cg

    monkeypatch.setattr(sandbox_mod, "_make_cgroup", make)
    yield tmp, made
    assert list(tmp.iterdir()) == [], "a sandbox left its temporary folder behind"
    assert [cg for cg in made if cg.exists()] == [], "a sandbox left its cgroup behind"


def _outside(tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    keep = outside / "keep.txt"
    keep.write_text("precious")
    keep.chmod(0o644)
    return outside, keep


@BOTH
def test_attack_writes_through_dir_fd_and_sqlite_cannot_escape(tmp_path, tracked, hook):
    """Issue 12.1: dir_fd writes, unlink/rename/chmod through descriptors, sqlite3 (C-level writes)."""
    outside, keep = _outside(tmp_path)
    o, k = str(outside), str(keep)
    code = _ATTEMPT + (
        "import sqlite3\n"
        f"attempt('open dir_fd', lambda: os.open('pwned', os.O_WRONLY | os.O_CREAT, dir_fd=os.open({o!r}, os.O_RDONLY)))\n"
        f"attempt('unlink dir_fd', lambda: os.unlink('keep.txt', dir_fd=os.open({o!r}, os.O_RDONLY)))\n"
        f"attempt('rename src_dir_fd', lambda: os.rename('keep.txt', 'moved', src_dir_fd=os.open({o!r}, os.O_RDONLY)))\n"
        f"attempt('chmod read-only fd', lambda: os.chmod(os.open({k!r}, os.O_RDONLY), 0o777))\n"
        f"attempt('sqlite', lambda: sqlite3.connect({o + '/x.db'!r}).execute('create table t(x)'))\n"
        "attempt('root dir_fd', lambda: os.open('tmp/pwned', os.O_WRONLY | os.O_CREAT, dir_fd=os.open('/', os.O_RDONLY)))\n"
        "attempt('python prefix', lambda: open(sys.prefix + '/pwned', 'w'))\n"
        "attempt('python base prefix', lambda: open(sys.base_prefix + '/pwned', 'w'))\n"
        "attempt('/usr', lambda: open('/usr/pwned', 'w'))\n"
        "attempt('/etc/passwd', lambda: open('/etc/passwd', 'a'))\n"
        "attempt('sqlite in /usr', lambda: sqlite3.connect('/usr/x.db').execute('create table t(x)'))\n"
        "print(results)\n"
        "assert 'SUCCEEDED' not in results.values(), results\n"
    )
    res = run_python(code, FAST, _audit_hook=hook)
    assert res.passed, res.stdout + res.stderr  # every attempt was refused inside the sandbox
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert keep.read_text() == "precious" and keep.stat().st_mode & 0o777 == 0o644
    for p in (Path(sys.prefix) / "pwned", Path(sys.base_prefix) / "pwned", Path("/usr/pwned"), Path("/usr/x.db")):
        assert not p.exists()
    _assert_cleaned(res)


@BOTH
def test_attack_faking_a_pass_fails(tracked, hook):
    """Issue 12.2: no token to read; a wrong solution that exits early or forges replies fails."""
    wrong = "def f(x):\n    return 0\n"
    tests = "assert f(1) == 2\nassert f(5) == 6\n"
    attacks = {
        "print argv, cmdline and __main__, then exit 0": (
            "import os, sys, __main__\n"
            "print(sys.argv, open('/proc/self/cmdline', 'rb').read(), vars(__main__).keys())\n"
            "sys.stdout.flush()\n"
            "os._exit(0)\n"
        ),
        "forge frames on every descriptor, then exit 0": (
            "import os, json\n"
            "for body in ({'kind': 'loaded', 'ok': True, 'names': {}}, {'status': 'passed', 'message': ''},\n"
            "             {'kind': 'return', 'value': ['int', '2']}):\n"
            "    data = json.dumps(body).encode()\n"
            "    for fd in range(0, 64):\n"
            "        try:\n"
            "            os.write(fd, len(data).to_bytes(8, 'big') + data)\n"
            "        except OSError:\n"
            "            pass\n"
            "os._exit(0)\n"
        ),
        "read the parent's frames and memory": (
            "import sys, os\n"
            "f = sys._getframe()\n"
            "while f is not None:\n"
            "    print(sorted(f.f_globals)[:50])\n"
            "    f = f.f_back\n"
            "print(os.listdir('/proc'))\n"
        ),
        "an object equal to everything": (
            "class Any:\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "def f(x):\n"
            "    return Any()\n"
        ),
        "a list whose == is always True": (
            "class L(list):\n"
            "    def __eq__(self, other):\n"
            "        return True\n"
            "def f(x):\n"
            "    return L()\n"
        ),
        "shadow the builtins and AssertionError": (
            "import builtins\n"
            "abs = lambda x: 0\n"
            "len = lambda x: 0\n"
            "AssertionError = None\n"
            "builtins.AssertionError = type('Nope', (Exception,), {})\n"
            "def f(x):\n"
            "    return 0\n"
        ),
        "sys.exit(0) inside the function": "import sys\ndef f(x):\n    sys.exit(0)\n",
        "kill the whole namespace": "import os\ndef f(x):\n    os.kill(-1, 9)\n    os._exit(0)\n",
    }
    for name, program in attacks.items():
        res = run_tests(wrong + program, tests + "assert abs(f(1) - 2) < 1e-9\n", FAST, _audit_hook=hook)
        assert not res.passed and res.status in ("failed", "error", "killed"), (name, res)
        _assert_cleaned(res)
    # the same checks pass a right solution
    res = run_tests("def f(x):\n    return x + 1\n", tests, FAST, _audit_hook=hook)
    assert res.passed, res.stderr


@BOTH
def test_attack_killing_the_harness_fails(tracked, hook):
    """Issue 12.3: pidfd_send_signal(pidfd_open(getppid())), kill(-1), the harness's pid: the
    sandbox has its own PID namespace, so the harness is not even visible; nothing leaks."""
    me = os.getpid()
    code = _ATTEMPT + (
        "import signal\n"
        "attempt('pidfd parent', lambda: signal.pidfd_send_signal(os.pidfd_open(os.getppid()), 9))\n"
        f"attempt('pidfd harness', lambda: signal.pidfd_send_signal(os.pidfd_open({me}), 9))\n"
        f"attempt('kill harness', lambda: os.kill({me}, 9))\n"
        "attempt('kill init', lambda: os.kill(1, 9))\n"
        "print(results, os.getpid(), os.getppid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "assert 'SUCCEEDED' not in [results[k] for k in ('pidfd harness', 'kill harness')], results\n"
    )
    res = run_python(code, FAST, _audit_hook=hook)
    assert not res.stderr or "SUCCEEDED" not in res.stderr
    assert res.status in ("passed", "error", "failed"), res  # the harness is alive to say so
    if not hook:
        assert res.passed, res.stderr
        # the only processes visible inside are the sandbox's own init and itself
        visible = res.stdout.strip().rsplit("[", 1)[1]
        assert visible.rstrip("]").replace(" ", "") in ("1,2", "1,2,3")
    _assert_cleaned(res)
    # kill(-1) takes down the sandbox only
    res = run_python("import os\nos.kill(-1, 9)\nimport time\ntime.sleep(30)", FAST, _audit_hook=False)
    assert not res.passed and res.status in ("killed", "error")
    _assert_cleaned(res)


@BOTH
def test_attack_secrets_are_unreadable(tmp_path, monkeypatch, tracked, hook):
    """Issue 12.4: /proc/<ppid>/environ, /etc/shadow, files outside the working directory."""
    secret = "s3cret-" + uuid.uuid4().hex
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    outside, _ = _outside(tmp_path)
    (outside / "key.txt").write_text(secret)
    repo_file = Path(__file__).resolve()
    code = (
        "import os, glob\n"
        "found = []\n"
        "def grab(path):\n"
        "    try:\n"
        "        with open(path, 'rb') as f:\n"
        "            found.append((path, f.read(100000)))\n"
        "    except OSError:\n"
        "        pass\n"
        "for p in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline') + ['/proc/1/environ', f'/proc/{os.getppid()}/environ']:\n"
        "    grab(p)\n"
        f"for p in ['/etc/shadow', '/etc/gshadow', {str(outside / 'key.txt')!r}, {str(repo_file)!r},\n"
        "          os.path.expanduser('~/.bash_history'), '/root/.ssh/id_rsa', '/root/.bash_history']:\n"
        "    grab(p)\n"
        f"assert not os.path.exists({str(outside)!r}) and not os.path.exists({str(repo_file.parent)!r})\n"
        "assert not os.path.exists('/etc/shadow')\n"
        "print([p for p, _ in found])\n"
        "print(b''.join(d for _, d in found).decode('latin-1'))\n"
    )
    res = run_python(code, FAST, _audit_hook=hook)
    assert res.passed, res.stderr
    assert secret not in res.stdout and secret not in res.stderr
    _assert_cleaned(res)


def test_sandbox_filesystem_view(tracked):
    """Only the interpreter, /usr, a minimal /dev and /etc and the working directory exist; the
    program runs as an unprivileged user with no capability and no_new_privs."""
    code = (
        "import os, sys\n"
        "print(sorted(os.listdir('/')))\n"
        "print(sorted(os.listdir('/etc')))\n"
        "print(sorted(os.listdir('/dev')))\n"
        "status = dict(l.split(':', 1) for l in open('/proc/self/status'))\n"
        "print({k: status[k].strip() for k in ('CapEff', 'CapPrm', 'CapBnd', 'NoNewPrivs')})\n"
        "assert os.getcwd() == os.environ['HOME']\n"
        "open('x', 'w').write('ok')\n"
    )
    res = run_python(code, FAST, _audit_hook=False)
    assert res.passed, res.stderr
    top, etc, dev, caps = res.stdout.strip().splitlines()
    assert set(eval(top)) <= {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "sbin", "tmp", "usr",
                              *(p.strip("/").split("/")[0] for p in sandbox_mod._python_dirs(sys.executable))}
    assert "shadow" not in eval(etc) and "gshadow" not in eval(etc)
    assert set(eval(dev)) == {"null", "zero", "full", "random", "urandom", "fd", "stdin", "stdout", "stderr"}
    assert eval(caps) == {"CapEff": "0" * 16, "CapPrm": "0" * 16, "CapBnd": "0" * 16, "NoNewPrivs": "1"}


@pytest.mark.parametrize("step", ["unshare", "mount", "proc", "pivot_root", "drop"])
def test_missing_kernel_feature_refuses_to_run(tmp_path, tracked, step):
    """Where the kernel refuses a step of the isolation, nothing runs and the message says why."""
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('ran')"
    with pytest.raises(SandboxUnavailable) as info:
        run_tests(code, "", FAST, _audit_hook=False, _fault=step)
    msg = str(info.value)
    assert "ran nothing" in msg and "simulated" in msg and "unshare --user" in msg
    assert not marker.exists()


def test_judge_compares_plain_values():
    """The judge sees the solution's return values as built-in data, whatever their type."""
    program = (
        "import math\n"
        "from collections import deque, OrderedDict, Counter\n"
        "def helper(x):\n"
        "    return x * 2\n"
        "def values():\n"
        "    return (1, 2.5, 'a', b'b', None, True, [1, (2, 3)], {1: {'x'}}, frozenset({4}), 10 ** 40, -7,\n"
        "            float('inf'), 1 + 2j, range(3), deque([1]), OrderedDict(a=1), Counter('aab'))\n"
        "def gen(n):\n"
        "    yield from range(n)\n"
        "def keys():\n"
        "    return {'a': 1, 'b': 2}.keys()\n"
        "def boom(kind):\n"
        "    raise {'v': ValueError, 'k': KeyError, 'a': AssertionError}[kind]('bad')\n"
        "def nan():\n"
        "    return float('nan')\n"
        "def same(obj):\n"
        "    return obj\n"
        "CONSTANT = [1, 2, 3]\n"
    )
    tests = (
        "v = values()\n"
        "assert v == (1, 2.5, 'a', b'b', None, True, [1, (2, 3)], {1: {'x'}}, frozenset({4}), 10 ** 40, -7,\n"
        "             float('inf'), 1 + 2j, range(3), deque([1]), {'a': 1}, {'a': 2, 'b': 1}), v\n"
        "assert v[5] is True and v[4] is None\n"
        "assert list(gen(3)) == [0, 1, 2] and gen(3) != [0, 1, 2]\n"
        "assert keys() == {'a', 'b'}\n"
        "assert helper(helper(2)) == 8 and CONSTANT == [1, 2, 3]\n"
        "assert math.isclose(helper(0.5), 1.0)\n"
        "assert same(Point(1, 2)) == (1, 2)\n"  # an object of the setup code's class goes in
        "x = nan()\n"
        "assert x != x\n"
        "try:\n"
        "    boom('v')\n"
        "    raise RuntimeError('no exception')\n"
        "except ValueError as e:\n"
        "    assert 'bad' in str(e)\n"
        "try:\n"
        "    boom('k')\n"
        "except KeyError:\n"
        "    pass\n"
    )
    setup = "from collections import deque, namedtuple\nPoint = namedtuple('Point', 'x y')\n"
    res = run_tests(program, tests, FAST, setup=setup)
    assert res.passed, res.stderr
    res = run_tests(program, "boom('a')", FAST)
    assert res.status == "failed" and "AssertionError" in res.stderr
    res = run_tests("class C:\n    pass\ndef f():\n    return C()\n", "assert f() is not None", FAST)
    assert res.status == "error" and "cannot be checked outside its process" in res.stderr
    res = run_tests("def f():\n    x = []\n    x.append(x)\n    return x\n", "f()", FAST)
    assert res.status == "error" and "contains itself" in res.stderr


def test_timeout_kills_the_whole_namespace(tracked):
    """A detached grandchild (double fork + setsid) dies with the run: the PID namespace goes."""
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(600)\n"
        "    os._exit(0)\n"
        "while True:\n"
        "    pass\n"
    )
    res = run_python(code, SandboxLimits(timeout=2), _audit_hook=False)
    assert res.status == "timeout"
    _assert_cleaned(res)


def test_harness_killed_mid_run_takes_its_sandboxes_along(tmp_path):
    """kill -9 of the harness: the sandbox's launcher gets PDEATHSIG, its init and namespace die."""
    import signal
    import subprocess

    tmp = tmp_path / f"harness-{uuid.uuid4().hex}"  # its runs' paths (in every command line) say "ours"
    tmp.mkdir()
    harness = (
        "from avengers.generate.sandbox import run_python, SandboxLimits\n"
        "run_python('import time\\ntime.sleep(600)', SandboxLimits(timeout=600), _audit_hook=False)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(Path(sandbox_mod.__file__).resolve().parents[2])}
    cgroup_root = sandbox_mod._pids_cgroup_root()
    before = set(cgroup_root.glob("avengers-sandbox-*")) if cgroup_root else set()
    proc = subprocess.Popen([sys.executable, "-c", harness], env=env)

    def sandboxed() -> list[int]:
        return [p for p in _leftover_processes(str(tmp)) if p != proc.pid]

    deadline = time.monotonic() + 60
    while len(sandboxed()) < 4:  # launcher, init and worker of the runner; the judge's too
        assert time.monotonic() < deadline, "the sandbox did not start"
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while sandboxed() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandboxed() == []
    # a harness killed by -9 cannot remove its (now empty) cgroups: the next harness sweeps old
    # ones; this test removes its own
    for cg in (set(cgroup_root.glob("avengers-sandbox-*")) - before) if cgroup_root else ():
        for _ in range(50):  # the kernel releases a cgroup a moment after its last process is reaped
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.1)
