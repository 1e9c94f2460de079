"""Ensemble strategies on small hand-made queries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from avengers.errors import AvengersError, ConfigError
from avengers.vote.ensemble import (STRATEGIES, Sample, Vote, answer_grade, build_strategy, samples_by_query,
                                    vote_outcomes)
from avengers.answers.normalize import NORMALIZERS

EXACT = NORMALIZERS.get("exact")
TEXT = NORMALIZERS.get("text")
DATE = NORMALIZERS.get("date")
CONF = Path(__file__).resolve().parents[2] / "src" / "avengers" / "conf" / "ensemble"


def S(*pairs):
    """S(("A", 1), ("B", 0)) -> [Sample("A", 1.0), Sample("B", 0.0)]"""
    return [Sample(a, float(s)) for a, s in pairs]


def test_registry_and_builder():
    assert STRATEGIES.names() == ["direct", "model_switch", "multi_model", "oracle", "pooled_vote", "self_consistency"]
    for name in STRATEGIES.names():
        st = build_strategy(name)
        # multi_model is the old name of pooled_vote: same strategy, honest name.
        assert st.name == ("pooled_vote" if name == "multi_model" else name)
    assert build_strategy("multi_model", n_models=3) == build_strategy("pooled_vote", n_models=3)
    with pytest.raises(ConfigError, match="Did you mean 'self_consistency'"):
        build_strategy("self_consistancy")
    with pytest.raises(ConfigError, match="does not take \\['n_models'\\]"):
        build_strategy("self_consistency", n_models=2)
    for bad in [0, -1, 1.5, True, "3"]:
        with pytest.raises(ConfigError, match="n_samples"):
            build_strategy("direct", n_samples=bad)
    with pytest.raises(ConfigError, match="threshold"):
        build_strategy("model_switch", threshold=1.5)
    with pytest.raises(ConfigError, match="n_models"):
        build_strategy("multi_model", n_models=0)


OLD_NAMES = {"multi_model": "pooled_vote", "multi_model_top3": "pooled_vote_top3"}


def _composed(stem: str):
    from hydra import compose, initialize_config_dir

    import avengers.run  # noqa: F401  (registers the config's resolvers)

    with initialize_config_dir(config_dir=str(CONF.parent), version_base="1.3"):
        return compose(config_name="config", overrides=[f"ensemble={stem}"]).ensemble


@pytest.mark.parametrize("path", sorted(p for p in CONF.glob("*.yaml") if not p.stem.startswith("_")),
                         ids=lambda p: p.stem)
def test_config_files_build(path):
    node = _composed(path.stem)
    cfg = OmegaConf.to_container(node, resolve=True)
    # Old names keep working and show the honest name.
    assert cfg["name"] == OLD_NAMES.get(path.stem, path.stem)
    assert {"n_samples", "code_answers", "code_benchmarks"} <= set(cfg)
    # answers are normalised by each benchmark's answer pipeline, never chosen per config
    assert not {"normalizer", "default_normalizer", "normalizers"} & set(cfg)
    # `strategy` lets a config reuse a registered strategy under another name (pooled_vote_top3).
    strategy = cfg.pop("strategy", cfg["name"])
    st = build_strategy(**{**cfg, "name": strategy})  # the code keys are accepted and ignored
    assert st.name == strategy


def test_every_strategy_has_a_config_file():
    from avengers.vote.voter import strategy_name

    used = {strategy_name(_composed(p.stem)) for p in CONF.glob("*.yaml") if not p.stem.startswith("_")}
    # multi_model is only an alias of pooled_vote now
    assert sorted(used) == ["direct", "model_switch", "oracle", "pooled_vote", "self_consistency"]
    assert sorted(used | {"multi_model"}) == STRATEGIES.names()


# --- direct / self-consistency --------------------------------------------------------


def test_direct_takes_first_sample_of_top_model():
    samples = {"m1": S(("B", 0), ("A", 1), ("A", 1)), "m2": S(("A", 1))}
    v = build_strategy("direct")(["m1", "m2"], samples, EXACT)
    assert v == Vote(answer="B", score=0.0, models=("m1",), expected=False)


def test_direct_without_answer_keeps_its_score():
    v = build_strategy("direct")(["m"], {"m": S((None, 0.3))}, EXACT)
    assert v == Vote(answer=None, score=0.3, models=("m",), expected=False)


def test_self_consistency_majority():
    samples = {"m1": S(("B", 0), ("A", 1), ("A", 1)), "m2": S(("B", 0))}
    v = build_strategy("self_consistency")(["m1", "m2"], samples, EXACT)
    assert v == Vote(answer="A", score=1.0, models=("m1",), expected=False)


def test_single_sample():
    v = build_strategy("self_consistency")(["m"], {"m": S(("A", 1))}, EXACT)
    assert v == Vote("A", 1.0, ("m",), False)


def test_tie_goes_to_first_occurrence():
    # A and B twice each: A occurs first.
    v = build_strategy("self_consistency")(["m"], {"m": S(("A", 0), ("B", 1), ("B", 1), ("A", 0))}, EXACT)
    assert (v.answer, v.score) == ("A", 0.0)
    v = build_strategy("self_consistency")(["m"], {"m": S(("B", 1), ("A", 0), ("A", 0), ("B", 1))}, EXACT)
    assert (v.answer, v.score) == ("B", 1.0)


def test_tie_is_on_first_occurrence_of_the_normalised_answer():
    # " a" (text -> "a") occurs before "B"; "A." normalises to "a" as well.
    samples = {"m": S(("B", 0), (" a", 1), ("A.", 1), ("b", 0))}
    v = build_strategy("self_consistency")(["m"], samples, TEXT)
    assert (v.answer, v.score) == ("b", 0.0)


def test_normaliser_merges_answers():
    samples = {"m": S(("5/1/2021", 1), ("05/01/2021", 1), ("04/30/2021", 0))}
    assert build_strategy("self_consistency")(["m"], samples, EXACT).answer == "5/1/2021"
    assert build_strategy("self_consistency")(["m"], samples, DATE) == Vote("05/01/2021", 1.0, ("m",), False)


def test_missing_answers_do_not_vote():
    samples = {"m": S((None, 0), (None, 0), (None, 0), ("A", 1), ("B", 0), ("A", 1))}
    assert build_strategy("self_consistency")(["m"], samples, EXACT) == Vote("A", 1.0, ("m",), False)


def test_answer_that_normalises_to_none_does_not_vote():
    samples = {"m": S(("   ", 0), ("   ", 0), ("x", 1))}
    assert build_strategy("self_consistency")(["m"], samples, TEXT) == Vote("x", 1.0, ("m",), False)


def test_all_answers_missing_gives_expected_score():
    samples = {"m": S((None, 1), (None, 0), (None, 0), (None, 1))}
    v = build_strategy("self_consistency")(["m"], samples, EXACT)
    assert v == Vote(answer=None, score=0.5, models=("m",), expected=True)


def test_pass_rate_source_without_answers_is_expected():
    # RouterDC: one sample per model, a pass rate, no answers.
    v = build_strategy("self_consistency")(["m1", "m2"], {"m1": S((None, 0.7)), "m2": S((None, 0.1))}, TEXT)
    assert v == Vote(None, 0.7, ("m1",), True)


def test_disagreeing_grades_for_one_answer_count_and_take_the_majority_grade():
    # `5/1/2021` graded wrong, `05/01/2021` right, merged by the date normaliser: the answer
    # counts three times and is scored by the majority grade (1 of 0, 1, 1).
    samples = {"m": S(("5/1/2021", 0), ("05/01/2021", 1), ("05/01/2021", 1))}
    v = build_strategy("self_consistency")(["m"], samples, DATE)
    assert v == Vote("05/01/2021", 1.0, ("m",), False, grade_conflict=True)
    samples = {"m": S(("5/1/2021", 0), ("5/1/2021", 0), ("05/01/2021", 1), ("12/31/2020", 1))}
    assert build_strategy("self_consistency")(["m"], samples, DATE).score == 0.0


def test_grade_tie_goes_to_the_first_samples_grade():
    # A sandbox timeout on identical code: one pass, one fail. Tie -> the first sample's grade.
    code = "def f():\n    return 1"
    assert answer_grade([1.0, 0.0]) == (1.0, True)
    assert answer_grade([0.0, 1.0]) == (0.0, True)
    assert answer_grade([0.0, 1.0, 1.0, 0.0]) == (0.0, True)
    assert answer_grade([0.5, 0.5 + 1e-12]) == (0.5, False)
    for name in ["self_consistency", "pooled_vote", "model_switch"]:
        v = build_strategy(name)(["m1", "m2"], {"m1": S((code, 0), (code, 1)), "m2": S((code, 1))}, EXACT)
        assert v.answer == code and v.grade_conflict
    # pooled over both models: grades 0, 1, 1 -> 1
    assert build_strategy("pooled_vote")(["m1", "m2"], {"m1": S((code, 0), (code, 1)), "m2": S((code, 1))}, EXACT).score == 1.0


def test_disagreeing_scores_of_a_losing_answer_are_not_used():
    samples = {"m": S(("A", 1), ("A", 1), ("A", 1), ("B", 0), ("B", 1))}
    assert build_strategy("self_consistency")(["m"], samples, EXACT).answer == "A"


def test_n_samples_uses_the_first_n():
    samples = {"m": S(("B", 0), ("A", 1), ("A", 1), ("A", 1))}
    sc = build_strategy("self_consistency", n_samples=1)
    assert sc(["m"], samples, EXACT) == Vote("B", 0.0, ("m",), False)
    # first 3: B, A, A -> A
    assert build_strategy("self_consistency", n_samples=3)(["m"], samples, EXACT).answer == "A"
    # more than there are: all of them
    assert build_strategy("self_consistency", n_samples=99)(["m"], samples, EXACT).answer == "A"
    # and it does not depend on the call order (deterministic, no sampling)
    assert sc(["m"], samples, EXACT) == sc(["m"], samples, EXACT)


def test_unknown_or_empty_model_is_an_error():
    with pytest.raises(AvengersError, match="no samples for it"):
        build_strategy("self_consistency")(["zz"], {"m": S(("A", 1))}, EXACT)
    with pytest.raises(AvengersError, match="no samples"):
        build_strategy("self_consistency")(["m"], {"m": []}, EXACT)
    with pytest.raises(AvengersError, match="ranked is empty"):
        build_strategy("direct")([], {"m": S(("A", 1))}, EXACT)


# --- multi-model ----------------------------------------------------------------------


def test_multi_model_pools_top_models():
    samples = {"m1": S(("A", 1), ("B", 0)), "m2": S(("B", 0), ("B", 0)), "m3": S(("A", 1), ("A", 1), ("A", 1))}
    v = build_strategy("multi_model", n_models=2)(["m1", "m2", "m3"], samples, EXACT)
    assert v == Vote("B", 0.0, ("m1", "m2"), False)
    v = build_strategy("multi_model", n_models=3)(["m1", "m2", "m3"], samples, EXACT)
    assert v == Vote("A", 1.0, ("m1", "m2", "m3"), False)
    # more models asked than ranked: all ranked
    v = build_strategy("multi_model", n_models=5)(["m2", "m1"], samples, EXACT)
    assert v.models == ("m2", "m1")


def test_multi_model_tie_goes_to_better_ranked_model():
    samples = {"m1": S(("A", 1)), "m2": S(("B", 0))}
    assert build_strategy("multi_model")(["m1", "m2"], samples, EXACT).answer == "A"
    assert build_strategy("multi_model")(["m2", "m1"], samples, EXACT).answer == "B"


def test_multi_model_n_samples_per_model():
    samples = {"m1": S(("A", 1), ("B", 0), ("B", 0)), "m2": S(("A", 1), ("B", 0), ("B", 0))}
    assert build_strategy("multi_model", n_samples=1)(["m1", "m2"], samples, EXACT).answer == "A"
    assert build_strategy("multi_model")(["m1", "m2"], samples, EXACT).answer == "B"


def test_multi_model_model_without_answers_does_not_vote():
    samples = {"m1": S((None, 0.2)), "m2": S(("A", 1), ("A", 1))}
    assert build_strategy("multi_model")(["m1", "m2"], samples, EXACT) == Vote("A", 1.0, ("m1", "m2"), False)


# --- model switch ---------------------------------------------------------------------


def test_model_switch_keeps_a_consistent_top_model():
    samples = {"m1": S(("A", 1), ("A", 1), ("B", 0)), "m2": S(("B", 0), ("B", 0), ("B", 0))}
    v = build_strategy("model_switch", threshold=0.6)(["m1", "m2"], samples, EXACT)
    assert v == Vote("A", 1.0, ("m1",), False)  # 2/3 >= 0.6: no switch


def test_model_switch_switches_when_agreement_is_low():
    samples = {"m1": S(("A", 0), ("B", 1), ("C", 0)), "m2": S(("B", 1), ("B", 1), ("D", 0))}
    v = build_strategy("model_switch", threshold=0.5)(["m1", "m2"], samples, EXACT)
    # 1/3 < 0.5 -> pool m2: A, B, C, B, B, D -> B (3/6 >= 0.5, stop)
    assert v == Vote("B", 1.0, ("m1", "m2"), False)


def test_model_switch_threshold_is_inclusive_like_mot():
    samples = {"m1": S(("A", 1), ("B", 0)), "m2": S(("B", 0), ("B", 0))}
    # 1/2 >= 0.5: accepted, m2 never consulted
    assert build_strategy("model_switch", threshold=0.5)(["m1", "m2"], samples, EXACT).models == ("m1",)
    assert build_strategy("model_switch", threshold=0.51)(["m1", "m2"], samples, EXACT).models == ("m1", "m2")


def test_model_switch_stops_at_max_models():
    samples = {m: S(("A", 0), ("B", 1), ("C", 0)) for m in ["m1", "m2", "m3"]}
    v = build_strategy("model_switch", threshold=0.9, max_models=2)(["m1", "m2", "m3"], samples, EXACT)
    assert v.models == ("m1", "m2") and v.answer == "A"  # all tied: first occurrence
    v = build_strategy("model_switch", threshold=0.9, max_models=None)(["m1", "m2", "m3"], samples, EXACT)
    assert v.models == ("m1", "m2", "m3")
    v = build_strategy("model_switch", threshold=0.9, max_models=1)(["m1", "m2", "m3"], samples, EXACT)
    assert v.models == ("m1",)


def test_model_switch_missing_answers_count_as_disagreement():
    # one A out of 3 samples: 1/3 < 0.5 even though every answered sample agrees
    samples = {"m1": S(("A", 0), (None, 0), (None, 0)), "m2": S(("B", 1), ("B", 1), ("B", 1))}
    v = build_strategy("model_switch")(["m1", "m2"], samples, EXACT)
    assert v == Vote("B", 1.0, ("m1", "m2"), False)


def test_model_switch_without_pooling_is_the_mot_cascade():
    samples = {"m1": S(("A", 0), ("B", 1), ("A", 0), ("B", 1), ("C", 0)), "m2": S(("C", 0), ("C", 0))}
    pooled = build_strategy("model_switch", threshold=0.5)(["m1", "m2"], samples, EXACT)
    cascade = build_strategy("model_switch", threshold=0.5, pool=False)(["m1", "m2"], samples, EXACT)
    assert pooled == Vote("C", 0.0, ("m1", "m2"), False)  # A2 B2 C3 -> C
    assert cascade == Vote("C", 0.0, ("m1", "m2"), False)  # m2 alone decides
    samples["m2"] = S(("B", 1))
    assert build_strategy("model_switch", pool=False)(["m1", "m2"], samples, EXACT).answer == "B"
    assert build_strategy("model_switch", pool=True)(["m1", "m2"], samples, EXACT).answer == "B"  # A2 B3 C1


def test_model_switch_n_samples():
    samples = {"m1": S(("A", 1), ("B", 0), ("B", 0), ("B", 0)), "m2": S(("C", 0))}
    # first 2 of m1: A, B -> 1/2 agreement >= 0.5, tie -> A
    assert build_strategy("model_switch", n_samples=2)(["m1", "m2"], samples, EXACT) == Vote("A", 1.0, ("m1",), False)


def test_model_switch_without_any_answers_is_expected():
    samples = {"m1": S((None, 1), (None, 0)), "m2": S((None, 1), (None, 1))}
    v = build_strategy("model_switch")(["m1", "m2"], samples, EXACT)
    assert v == Vote(None, 0.75, ("m1", "m2"), True)


# --- oracle ---------------------------------------------------------------------------


def test_oracle_any_correct_sample():
    samples = {"m1": S(("B", 0), ("A", 1), ("C", 0)), "m2": S(("D", 1))}
    assert build_strategy("oracle")(["m1", "m2"], samples, EXACT) == Vote("A", 1.0, ("m1",), False)
    assert STRATEGIES.get("oracle").is_oracle


def test_oracle_none_correct_and_n_samples_and_models():
    samples = {"m1": S(("B", 0), ("A", 1)), "m2": S(("D", 1))}
    assert build_strategy("oracle", n_samples=1)(["m1", "m2"], samples, EXACT) == Vote("B", 0.0, ("m1",), False)
    v = build_strategy("oracle", n_samples=1, n_models=2)(["m1", "m2"], samples, EXACT)
    assert v == Vote("D", 1.0, ("m1", "m2"), False)
    v = build_strategy("oracle", n_samples=1, n_models=None)(["m1", "m2"], samples, EXACT)
    assert v.models == ("m1", "m2") and v.score == 1.0


def test_oracle_without_answers_is_labelled_expected():
    v = build_strategy("oracle", n_models=None)(["m1", "m2"], {"m1": S((None, 0.2)), "m2": S((None, 0.6))}, EXACT)
    assert v == Vote(None, 0.6, ("m1", "m2"), True)


def test_oracle_upper_bounds_every_strategy():
    samples = {"m1": S(("A", 0), ("B", 1), ("A", 0)), "m2": S(("B", 1), ("C", 0))}
    o = build_strategy("oracle", n_models=None)(["m1", "m2"], samples, EXACT).score
    for name in ["direct", "self_consistency", "multi_model", "model_switch"]:
        assert build_strategy(name)(["m1", "m2"], samples, EXACT).score <= o


# --- whole tables ---------------------------------------------------------------------


def _table():
    rows = []
    for q, answers in {"q0": ["A", "A", "B"], "q1": ["B", None, "B"]}.items():
        for k, a in enumerate(answers):
            rows.append(("bench", q, "m1", k, a, 1.0 if a == "A" else 0.0))
        rows.append(("bench", q, "m2", 0, "B", 0.0))
    return pd.DataFrame(rows, columns=["benchmark", "query_id", "model", "sample", "answer", "score"])


def test_samples_by_query_keeps_sample_order():
    df = _table().sample(frac=1.0, random_state=0)  # shuffled rows
    by_q = samples_by_query(df)
    assert by_q[("bench", "q0")]["m1"] == S(("A", 1), ("A", 1), ("B", 0))
    assert by_q[("bench", "q1")]["m1"] == S(("B", 0), (None, 0), ("B", 0))


def test_vote_outcomes():
    out = vote_outcomes(_table(), build_strategy("self_consistency"), ["m1", "m2"], lambda b: EXACT)
    assert out.to_dict("records") == [
        {"benchmark": "bench", "query_id": "q0", "answer": "A", "score": 1.0, "models": ("m1",), "expected": False,
         "grade_conflict": False},
        {"benchmark": "bench", "query_id": "q1", "answer": "B", "score": 0.0, "models": ("m1",), "expected": False,
         "grade_conflict": False},
    ]
    out = vote_outcomes(_table(), build_strategy("direct"), lambda b, q: ["m2", "m1"], lambda b: EXACT)
    assert list(out["models"]) == [("m2",), ("m2",)]


def test_vote_outcomes_names_the_query_on_error():
    df = _table()
    df = df[~((df.query_id == "q1") & (df.model == "m1"))]
    with pytest.raises(AvengersError, match=r"query_id='q1'.*'m1'.*no samples"):
        vote_outcomes(df, build_strategy("self_consistency"), ["m1"], lambda b: EXACT)


def test_conflicting_grades_no_longer_raise_over_a_table():
    df = _table()
    df.loc[(df.query_id == "q1") & (df["sample"] == 2) & (df.model == "m1"), "score"] = 1.0
    out = vote_outcomes(df, build_strategy("self_consistency"), ["m1"], lambda b: EXACT)
    assert out["grade_conflict"].tolist() == [False, True]
