"""Every config of every group composes, passes its schema and instantiates; a typo in any
group's key is refused with a did-you-mean before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate

from avengers.config import CONF_DIR, check_config
from avengers.errors import ConfigError
from tests.support import compose_cfg, run_cli

GROUPS = ["data", "embedder", "clustering", "router", "ensemble", "tracking", "debug"]
NEEDS_PATH = {"outcomes", "llmrouterbench", "llmrouterbench_cost", "avengers_format"}
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml")) if not p.stem.startswith("_")]


def compose(tmp_path: Path, overrides: list[str]):
    return compose_cfg(overrides, cache=tmp_path / "cache", data_root=tmp_path)


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_config_composes_checks_and_instantiates(tmp_path, group, option):
    ovr = [f"{group}={option}"]
    if group == "data" and option in NEEDS_PATH:
        ovr.append("data.path=x.jsonl")
    if group == "embedder" and option == "sentence_transformer":
        ovr.append("embedder.model=/nonexistent")
    cfg = compose(tmp_path, ovr)
    check_config(cfg)
    if group in ("embedder", "clustering", "router"):
        obj = instantiate(cfg[group])
        assert type(obj).__name__ == cfg[group]._target_.rsplit(".", 1)[1]


@pytest.mark.parametrize(("override", "message"), [
    ("+router.top_kk=3", "Unknown config key 'router.top_kk'. Did you mean 'top_k'"),
    ("+data.downlaod=false", "Unknown config key 'data.downlaod'. Did you mean 'download'"),
    ("+clustering.n_int=3", "Unknown config key 'clustering.n_int'. Did you mean 'n_init'"),
    ("+embedder.batchsize=8", "Unknown config key 'embedder.batchsize'. Did you mean 'batch_size'"),
    ("+paths.cachedir=x", "Unknown config key 'paths.cachedir'. Did you mean 'cache_dir'"),
    ("+tracking.projct=x", "Unknown config key 'tracking.projct'. Did you mean 'project'"),
    ("+sed=3", "Unknown config key 'sed'. Did you mean 'seed'"),
])
def test_typo_in_any_group_is_refused_with_did_you_mean(tmp_path, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        check_config(compose(tmp_path, [override]))


def test_ensemble_keys_follow_the_strategy(tmp_path):
    check_config(compose(tmp_path, ["ensemble=self_consistency", "ensemble.n_samples=3"]))
    with pytest.raises(ConfigError, match="Did you mean 'n_samples'"):
        check_config(compose(tmp_path, ["ensemble=self_consistency", "+ensemble.n_sample=3"]))


def test_cli_refuses_a_typo_in_a_users_experiment_file_before_running(tmp_path):
    exp = tmp_path / "confs" / "experiment"
    exp.mkdir(parents=True)
    (exp / "mine.yaml").write_text("# @package _global_\nrouter:\n  top_kk: 2\n")
    proc = run_cli(["--config-dir", str(tmp_path / "confs"), "experiment=mine"], cache=tmp_path / "c",
                   out=tmp_path / "o", check=False)
    assert proc.returncode != 0
    assert "Unknown config key 'router.top_kk'" in proc.stderr + proc.stdout
    assert not list((tmp_path / "o").rglob("metrics.json"))
