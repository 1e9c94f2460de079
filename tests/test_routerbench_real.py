"""RouterBench CSVs: scores, raw answers, USD costs, and the explicit missing-outcome policy."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from avengers.errors import OutcomeError
from avengers.outcomes import load_outcomes
from avengers.outcomes.routerbench import user_question

pytestmark = pytest.mark.realdata


def rb_cfg(root, **over):
    cfg = OmegaConf.load(__file__.rsplit("/tests/", 1)[0] + "/src/avengers/conf/data/routerbench.yaml")
    cfg.root = str(root)
    for k, v in over.items():
        cfg[k] = v
    return cfg


def test_routerbench_loads_answers_and_costs(data_root):
    t = load_outcomes(rb_cfg(data_root))
    df = t.df
    assert len(t.models) == 11 and t.benchmarks == ["arc_challenge", "mbpp"]
    assert t.has_answers and t.has_cost and (df["cost"] > 0).all()
    # The 62 empty ARC cells make their queries incomplete: removed explicitly, and reported.
    assert t.dropped_queries and set(t.dropped_queries) == {"arc_challenge"}
    n = df.groupby(["benchmark", "split"])["query_id"].nunique().to_dict()
    assert n[("mbpp", "train")] == 299 and n[("mbpp", "test")] == 128
    assert n[("arc_challenge", "train")] + n[("arc_challenge", "test")] + sum(t.dropped_queries.values()) == 1039 + 445
    gpt4 = df[(df.model == "gpt-4-1106-preview") & (df.benchmark == "arc_challenge")]
    letters = gpt4["answer"].str.strip().str[:1]
    assert letters.isin(list("ABCD")).mean() > 0.99  # raw answers, normalised only when voting


def test_missing_cells_are_an_error_by_default(data_root):
    with pytest.raises(OutcomeError, match="lack outcomes.*data.missing=drop_query"):
        load_outcomes(rb_cfg(data_root, missing="error"))


def test_user_question_strips_few_shot_and_instruction():
    prompt = ("Q1?\nA) x\nB) y\nPrint only a single choice  from \"A\" or \"B\" without explanation.\nAnswer:\nA\n\n"
              "Which is hot?\nA) ice\nB) fire\nPrint only a single choice  from \"A\" or \"B\" without explanation.\nAnswer:")
    assert user_question(prompt) == "Which is hot?\nA) ice\nB) fire"
