"""Shared fixtures of the collect tests: a fake OpenAI-compatible server and a stand-in benchmark."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# Benchmarks are read with `datasets`: never the network in tests, and a private cache.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="avengers-hf-datasets-"))

import pytest

E2E = Path(__file__).resolve().parent / "fixtures" / "e2e"
if str(E2E) not in sys.path:
    sys.path.insert(0, str(E2E))

from fake_openai import FakeOpenAI  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "llamacpp: end to end against a real llama.cpp server (scripts/ci_llamacpp.sh starts it)"
    )


@pytest.fixture
def fake_server():
    """Factory: fake_server(delay_s=..., fail=[503, 429], ignore_n=True) -> a started FakeOpenAI."""
    servers: list[FakeOpenAI] = []

    def make(**kw) -> FakeOpenAI:
        srv = FakeOpenAI(**kw).start()
        servers.append(srv)
        return srv

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def standin():
    """The `e2e_arith` stand-in benchmark module (registered in this process)."""
    import standin as mod

    return mod
