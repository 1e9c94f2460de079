"""RouterDC with its MiniLM encoder fine-tuned end to end (router=routerdc_finetune, i.e.
routerdc.encoder=finetune): it learns a routing that is only in the query texts, it is
reproducible to the byte, its fit round-trips through the router cache, and on real RouterDC
data it beats random routing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from avengers.errors import ConfigError
from avengers.route.base import CalibrationSet

from .synthetic import make_router

COOKING = ["How long should I bake {x} in the oven?", "What spices go well with roasted {x}?",
           "Can I fry {x} in olive oil?", "Give me a recipe for {x} soup.", "How do I season {x} before grilling?"]
FOODS = ["chicken", "potatoes", "salmon", "carrots", "bread", "mushrooms", "lamb", "tofu"]
ASTRONOMY = ["How far from the Sun is {x}?", "What telescope do I need to see {x}?",
             "How many moons does {x} have?", "Why does {x} look red in the night sky?",
             "When is {x} visible from Earth?"]
SKY = ["Jupiter", "Saturn", "Mars", "Neptune", "the Andromeda galaxy", "Venus", "Uranus", "the Orion nebula"]

# Short fine-tunes: the release's learning rate, few steps, short texts.
QUICK = ("max_seq_length=32", "n_clusters=2", "steps=10", "eval_every=5")


def topics(n_calib: int = 60) -> tuple[CalibrationSet, list[str], np.ndarray]:
    """80 cooking and 80 astronomy questions. Model A is right on every cooking question and
    wrong on astronomy, model B the reverse, model C right on every other question whatever its
    topic. The right routing: cooking -> A, astronomy -> B. The embeddings are all zero, so only
    an encoder of the TEXTS can find it. Returns (calibration set, held-out texts, their topic)."""
    texts = [(t.format(x=x), 0) for t, x in itertools.product(COOKING, FOODS)]
    texts += [(t.format(x=x), 1) for t, x in itertools.product(ASTRONOMY, SKY)]
    texts = [texts[i] for i in np.random.default_rng(0).permutation(len(texts))]
    calib, held = texts[:n_calib], texts[n_calib:]
    topic = np.array([g for _, g in calib])
    scores = np.zeros((len(calib), 3))
    scores[topic == 0, 0] = 1.0
    scores[topic == 1, 1] = 1.0
    scores[::2, 2] = 1.0
    data = CalibrationSet(embeddings=np.zeros((len(calib), 4), np.float32), scores=scores, models=("A", "B", "C"),
                          texts=tuple(t for t, _ in calib), benchmarks=tuple(f"topic{g}" for g in topic),
                          identity={"synthetic": f"topics-{n_calib}"})
    return data, [t for t, _ in held], np.array([g for _, g in held])


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("cache")
        mp.setenv("AVENGERS_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def fitted(cache):
    from avengers.route.cache import fit_cached

    data, held, topic = topics()
    router, info = fit_cached(make_router("routerdc_finetune", *QUICK), data, 0)
    assert not info["cached"]
    return router, data, held, topic


@pytest.mark.slow  # loads torch and transformers
def test_fine_tuning_learns_the_routing_in_the_texts(fitted):
    router, data, held, topic = fitted
    top = router.rank(np.zeros((len(held), 4), np.float32), held)[:, 0]
    assert np.mean(top == topic) >= 0.95, np.bincount(top, minlength=3)
    # training did it: the untrained encoder (step 0) was worse on the held-out calibration queries
    checkpoint = router.describe()["checkpoint"]
    assert checkpoint["step"] > 0 and checkpoint["score"] == 100.0, checkpoint
    assert router.describe()["encoder"].startswith("packaged:all-MiniLM-L6-v2:")


@pytest.mark.slow  # loads torch and transformers
def test_routing_needs_the_texts(fitted):
    router, _, held, _ = fitted
    with pytest.raises(ConfigError, match="encoder=finetune.*pass the query texts"):
        router.rank(np.zeros((3, 4), np.float32), None)


@pytest.mark.slow  # loads torch and transformers
def test_the_cache_restores_the_fine_tuned_encoder(fitted):
    """A warm fit reads the ~91 MB of weights back from the router cache and routes identically."""
    from avengers.route.cache import fit_cached

    router, data, held, _ = fitted
    again, info = fit_cached(make_router("routerdc_finetune", *QUICK), data, 0)
    assert info["cached"]
    q = np.zeros((len(held), 4), np.float32)
    assert np.array_equal(again.predict(q, held), router.predict(q, held))
    size = sum(a.nbytes for a in again.get_state()[1].values())
    assert 85e6 < size < 95e6  # every MiniLM weight (22.7M float32) and the LLM embeddings


@pytest.mark.slow  # loads torch and transformers
def test_same_seed_same_bytes(cache):
    from avengers.route.cache import _npz_bytes

    data = topics(24)[0]

    def state_bytes(seed):
        router = make_router("routerdc_finetune", "max_seq_length=16", "n_clusters=2", "steps=3", "eval_every=3",
                             "learning_rate=0.001")
        return _npz_bytes(router.fit(data, seed).get_state()[1])

    first = state_bytes(0)
    assert state_bytes(0) == first
    assert state_bytes(1) != first


@pytest.mark.slow  # loads torch and transformers
def test_untrained_encoder_is_sentence_transformers_minilm():
    """Mean pooling + normalisation as sentence-transformers: with its truncation (right, 256
    tokens) the untrained encoder gives embedder=minilm's vectors."""
    from avengers.embed.sentence import SentenceTransformerEmbedder
    from avengers.route.text_encoder import EncoderSpec, PretrainedEncoder

    texts = ["How do I bake bread?", "Solve 2x + 3 = 7 for x.", "A very long question. " * 80]
    ours = PretrainedEncoder(EncoderSpec("packaged:all-MiniLM-L6-v2", 256, "right")).encode(texts)
    theirs = SentenceTransformerEmbedder("minilm", "packaged:all-MiniLM-L6-v2", device="cpu").encode(texts)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    left = EncoderSpec("packaged:all-MiniLM-L6-v2", 8, "left").tokenizer()
    ids = left(["one two three four five six seven eight nine ten"], truncation=True, max_length=8)["input_ids"][0]
    assert left.convert_ids_to_tokens(ids) == ["[CLS]", "five", "six", "seven", "eight", "nine", "ten", "[SEP]"]


def test_cache_key_names_the_encoder():
    base = make_router("routerdc_finetune").cache_key()
    assert base["finetune_encoder"].startswith("packaged:all-MiniLM-L6-v2:")
    assert make_router("routerdc_finetune", "max_seq_length=128").cache_key() != base
    assert make_router("routerdc_finetune", "truncation_side=right").cache_key() != base
    # a frozen fit reads none of the fine-tune knobs, so they do not key it
    frozen = make_router("routerdc").cache_key()
    assert make_router("routerdc", "max_seq_length=128").cache_key() == frozen
    assert "finetune_encoder" not in frozen and "max_seq_length" not in frozen["params"]


@pytest.mark.parametrize("override,match", [
    ("truncation_side=middle", r"router.truncation_side='middle': use left .* or right"),
    ("max_seq_length=0", r"router.max_seq_length=0 must be a positive integer"),
    ("search={encoder:[frozen,finetune]}", r"router.search.encoder: the encoder cannot be searched"),
])
def test_bad_finetune_settings(override, match):
    with pytest.raises(ConfigError, match=match):
        make_router("routerdc_finetune", override)


def test_model_without_mean_pooling_is_refused(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text('[{"idx": 1, "name": "1", "path": "1_Pooling", '
                                           '"type": "sentence_transformers.models.Pooling"}]')
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    router = make_router("routerdc_finetune", f"finetune_model={tmp_path}")
    with pytest.raises(ConfigError, match="pools by .*pooling_mode_cls_token.*mean pooling only"):
        router.cache_key()


@pytest.mark.slow
@pytest.mark.realdata
def test_beats_random_on_real_routerdc_data(shared_cache, data_root):
    """A short fine-tune on a slice of RouterDC's calibration split, through the pipeline as
    `avengers-run router=routerdc_finetune` runs it (the job's tfidf embedder is not used by it)."""
    from avengers.pipeline import run_job

    from support import compose_cfg

    cfg = compose_cfg(["data=routerdc", "router=routerdc_finetune", "embedder=tfidf",
                       "data.max_queries_per_benchmark=40", "router.max_seq_length=128", "router.steps=60",
                       "router.eval_every=20"], cache=shared_cache, data_root=data_root)
    m = run_job(cfg).metrics
    ids = m["averages"]["id"]
    assert ids["routerdc_finetune"] > ids["random"] + 2.0, ids
    assert m["selection"]["router"] == "routerdc_finetune"
