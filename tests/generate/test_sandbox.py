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
