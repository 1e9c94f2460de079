"""Content-addressed embedding cache: a text is embedded once per embedder identity."""

from __future__ import annotations

import numpy as np
import pytest

from avengers.embed.cache import CachedEmbedder, EmbeddingCache
from avengers.embed.tfidf import TfidfSvdEmbedder


class Counting:
    name = "counting"

    def __init__(self, identity="counting-v1", fail_after=None):
        self._id, self.calls, self.fail_after = identity, [], fail_after

    @property
    def identity(self):
        return self._id

    def fit(self, texts):
        pass

    def encode(self, texts):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.calls.append(list(texts))
        v = np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)  # embedders return unit vectors


def test_rerun_embeds_nothing_and_vectors_are_identical(tmp_path):
    texts = ["alpha", "beta", "alpha", "gamma"]
    e = Counting()
    first = CachedEmbedder(e, tmp_path)(texts)
    assert sum(map(len, e.calls)) == 3  # the duplicate is embedded once
    e2 = Counting()
    ce = CachedEmbedder(e2, tmp_path)
    again = ce(texts)
    assert e2.calls == [] and ce.n_embedded == 0 and ce.n_cached == 3
    np.testing.assert_array_equal(first, again)


def test_identity_is_part_of_the_key(tmp_path):
    CachedEmbedder(Counting("model-A"), tmp_path)(["x"])
    other = Counting("model-B")
    CachedEmbedder(other, tmp_path)(["x"])
    assert other.calls == [["x"]]


def test_interrupted_embedding_resumes_from_finished_chunks(tmp_path):
    texts = [f"text {i}" for i in range(10)]
    broken = Counting(fail_after=2)
    with pytest.raises(KeyboardInterrupt):
        CachedEmbedder(broken, tmp_path, chunk_size=3, progress=False)(texts)
    assert len(EmbeddingCache(tmp_path, "counting-v1")) == 6  # two chunks made it
    resumed = Counting()
    CachedEmbedder(resumed, tmp_path, chunk_size=3, progress=False)(texts)
    assert sum(map(len, resumed.calls)) == 4


def test_tfidf_identity_depends_on_the_calibration_corpus():
    a, b = TfidfSvdEmbedder(n_components=2), TfidfSvdEmbedder(n_components=2)
    a.fit(["one two", "two three", "three four"])
    b.fit(["one two", "two three", "five six"])
    assert a.identity != b.identity
    v = a.encode(["one two three"])
    assert v.shape == (1, 2) and np.isclose(np.linalg.norm(v), 1.0)
    with pytest.raises(RuntimeError, match="fit"):
        _ = TfidfSvdEmbedder().identity


def test_parallel_jobs_embed_each_text_once(tmp_path):
    """Two processes asking for the same texts: one embeds, the other waits and reads."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(2) as pool:
        counts = pool.starmap(_embed_in_child, [(str(tmp_path), i) for i in range(2)])
    assert sorted(counts) == [0, 50]


def _embed_in_child(folder, i):
    import time

    class Slow(Counting):
        def encode(self, texts):
            time.sleep(0.5)
            return super().encode(texts)

    ce = CachedEmbedder(Slow(), folder, progress=False)
    ce([f"text {j}" for j in range(50)])
    return ce.n_embedded


def test_texts_are_encoded_longest_first_across_all_lists(tmp_path):
    """One length-sorted pass over calibration and test texts together, in chunks that are a
    whole number of the embedder's batches (as one encode call over everything would batch)."""

    class Batched(Counting):
        batch_size = 4

    texts_a = ["a" * n for n in (3, 9, 1, 7)]
    texts_b = ["b" * n for n in (8, 2, 6, 4, 5)]
    e = Batched()
    ce = CachedEmbedder(e, tmp_path, chunk_size=6, progress=False)  # rounded up to 8 = 2 batches
    assert ce.chunk_size == 8
    a, b = ce.embed_all(texts_a, texts_b)
    assert [len(c) for c in e.calls] == [8, 1]
    assert [len(t) for c in e.calls for t in c] == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    assert a.shape == (4, 3) and b.shape == (5, 3)
    np.testing.assert_array_equal(a, CachedEmbedder(Counting(), tmp_path / "other")(texts_a))
    assert ce.n_embedded == 9 and ce.n_cached == 0


def test_duplicates_across_lists_are_embedded_once_and_counted_once(tmp_path):
    e = Counting()
    ce = CachedEmbedder(e, tmp_path, progress=False)
    a, b = ce.embed_all(["x", "y"], ["y", "z", "x"])
    assert sum(map(len, e.calls)) == 3 and ce.n_embedded == 3
    np.testing.assert_array_equal(a[0], b[2])
    ce2 = CachedEmbedder(Counting(), tmp_path, progress=False)
    ce2.embed_all(["x", "y"], ["y", "z", "x"])
    assert ce2.n_embedded == 0 and ce2.n_cached == 3  # a warm rerun reports what the cold run embedded


def test_a_resumed_run_encodes_the_same_batches_as_an_uninterrupted_one(tmp_path):
    """Finished chunks are a prefix of the length order, so the rest is chunked (and batched)
    exactly as before the kill: a resumed run gives the same vectors, bit for bit."""
    texts = [("t" * (i % 13)) + str(i) for i in range(40)]
    whole = Counting()
    CachedEmbedder(whole, tmp_path / "a", chunk_size=8, progress=False)(texts)
    broken = Counting(fail_after=3)
    with pytest.raises(KeyboardInterrupt):
        CachedEmbedder(broken, tmp_path / "b", chunk_size=8, progress=False)(texts)
    resumed = Counting()
    CachedEmbedder(resumed, tmp_path / "b", chunk_size=8, progress=False)(texts)
    assert broken.calls + resumed.calls == whole.calls
