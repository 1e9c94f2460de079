"""Small pieces of the Hydra entry: folder names and early did-you-mean checks."""

from __future__ import annotations

import pytest

from avengers.errors import AvengersError
from avengers.run import check_group_choices


def test_job_folder_names_are_predictable_and_bounded():
    from avengers.run import job_dirname

    assert job_dirname("") == "default"
    assert job_dirname("data.path=/a/b.parquet,seed=1") == "data.path=_a_b.parquet,seed=1"
    long = ",".join(f"key{i}=value{i}" for i in range(40))
    assert job_dirname(long) == job_dirname(long) and len(job_dirname(long)) < 150
    assert job_dirname(long) != job_dirname(long + ",x=1")


def test_group_choices_are_checked_before_hydra_runs():
    check_group_choices(["data=routerdc", "clustering=kmeans,gmm", "seed=1", "clustering.n_clusters=8"])
    with pytest.raises(AvengersError, match="Unknown clustering 'gmn'. Did you mean 'gmm'"):
        check_group_choices(["clustering=kmeans,gmn"])
