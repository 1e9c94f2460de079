"""Generation backends of the collect stage (the ``backend`` config group).

``vllm``: offline ``vllm.LLM`` in one fresh process per model (vllm is imported only there).
``openai``: any OpenAI-compatible HTTP server (vLLM server, llama.cpp server, a provider).
"""

from avengers.generate.backends.base import (
    BACKENDS,
    Backend,
    BackendError,
    Request,
    SampleResult,
    Sampling,
    make_backend,
    sample_runs,
)

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendError",
    "Request",
    "SampleResult",
    "Sampling",
    "make_backend",
    "sample_runs",
]
