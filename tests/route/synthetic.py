"""Small routing problems whose right answer is known, and routers built as `avengers-run` would."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avengers.route.base import CalibrationSet

CONF = Path(__file__).resolve().parents[2] / "src" / "avengers" / "conf"


def blobs(n_per_blob: int, seed: int, n_blobs: int = 3, dim: int = 16, generalist: bool = True,
          spread: float = 0.15) -> tuple[CalibrationSet, np.ndarray]:
    """`n_blobs` well-separated query groups; model j is right on group j (95%) and mostly wrong
    elsewhere (10%); an extra "generalist" model is right half the time everywhere. The right
    routing sends group j to model j. Returns (data, group of each query)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:n_blobs]
    group = np.repeat(np.arange(n_blobs), n_per_blob)
    x = centres[group] + spread * rng.normal(size=(len(group), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    p = np.full((len(group), n_blobs), 0.10)
    p[np.arange(len(group)), group] = 0.95
    if generalist:
        p = np.concatenate([p, np.full((len(group), 1), 0.5)], axis=1)
    scores = (rng.random(p.shape) < p).astype(np.float64)
    models = tuple(f"model_{j}" for j in range(p.shape[1]))
    texts = tuple(f"query {seed}-{i}" for i in range(len(group)))
    data = CalibrationSet(embeddings=x.astype(np.float32), scores=scores, models=models, texts=texts,
                          benchmarks=tuple(f"bench_{g}" for g in group),
                          identity={"synthetic": f"blobs-{n_per_blob}-{seed}-{n_blobs}-{dim}-{generalist}-{spread}"})
    return data, group


def make_router(name: str, *overrides: str, clustering: str = "kmeans", extra: tuple[str, ...] = ()):
    """The router `avengers-run router=<name> <overrides>` would build."""
    from hydra import compose, initialize_config_dir

    from avengers.pipeline import build_router

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "tracking=disabled", f"router={name}", f"clustering={clustering}", *extra,
            *[o if o.startswith(("clustering.", "+", "~")) else f"router.{o}" for o in overrides]])
    return build_router(cfg)


# Fast settings of the trained routers for unit tests (the YAML defaults are for real data).
FAST = {
    "mlp": ("steps=300", "eval_every=50", "batch_size=32"),
    "embedllm": ("steps=300", "eval_every=50", "batch_size=32"),
    "routerdc": ("steps=300", "eval_every=50"),
}
