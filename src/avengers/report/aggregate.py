"""Group jobs into tables and cells; mean and sample std over seeds, order independent.

A table is (suite, table); a cell group ("variant") is one combination of the values of the
experiment's `vary` keys. Within a variant the jobs may differ only in `seed` (and in ignored
bookkeeping nodes such as `tracking` / `paths`); anything else is an error naming the key, so a
cell never silently averages different setups.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from avengers.errors import AvengersError, did_you_mean
from avengers.report.jobs import DEFAULT_IGNORED_KEYS, FailedJob, Job, get_dotted, is_number

# Relative tolerance under which a per-seed baseline counts as "the same in every variant".
INVARIANT_RTOL = 1e-9


@dataclass(frozen=True)
class Stats:
    mean: float
    std: float | None  # sample std (ddof=1); None when n == 1
    n: int
    values: tuple[float, ...]
    seeds: tuple[Any, ...]
    jobs: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean,
            "std": self.std,
            "n": self.n,
            "seeds": list(self.seeds),
            "values": list(self.values),
            "jobs": [dict(j) for j in self.jobs],
        }


def mean_std(values: Iterable[float]) -> tuple[float, float | None]:
    """Mean and sample std (ddof=1, None for one value), exact-sum so the order never matters."""
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("mean_std of no values")
    n = len(vals)
    if all(v == vals[0] for v in vals):  # fsum(n * v) / n need not give back v exactly
        return vals[0], (0.0 if n > 1 else None)
    mean = math.fsum(vals) / n
    if n < 2:
        return mean, None
    var = math.fsum((v - mean) ** 2 for v in vals) / (n - 1)
    return mean, math.sqrt(var)


def seed_key(seed: Any) -> tuple:
    if seed is None:
        return (2, "")
    if is_number(seed):
        return (0, float(seed), "")
    return (1, 0.0, str(seed))


def job_order(job: Job) -> tuple:
    return (seed_key(job.seed), job.output_dir)


def cell_stats(jobs: Iterable[Job], getter: Callable[[Job], float | None]) -> Stats | None:
    """Stats over the jobs of one variant (one job per seed) of getter(job); None when no job has it."""
    rows = [(j, getter(j)) for j in sorted(jobs, key=job_order)]
    rows = [(j, v) for j, v in rows if v is not None]
    if not rows:
        return None
    mean, std = mean_std(v for _, v in rows)
    return Stats(
        mean=mean,
        std=std,
        n=len(rows),
        values=tuple(float(v) for _, v in rows),
        seeds=tuple(j.seed for j, _ in rows),
        jobs=tuple(j.ref() for j, _ in rows),
    )


def pooled_stats(
    variants: Iterable[list[Job]], getter: Callable[[Job], float | None]
) -> tuple[Stats | None, bool]:
    """Stats over seeds of a quantity that should not depend on the variant (a baseline).

    Per seed the values of all variants are averaged first (so n counts seeds, not jobs), then
    mean/std over seeds. Returns (stats, invariant) where invariant says whether every seed had
    the same value in every variant.
    """
    by_seed: dict[tuple, list[tuple[Job, float]]] = {}
    for jobs in variants:
        for j in jobs:
            v = getter(j)
            if v is not None:
                by_seed.setdefault(seed_key(j.seed), []).append((j, float(v)))
    if not by_seed:
        return None, True
    invariant = True
    per_seed: list[float] = []
    seeds: list[Any] = []
    refs: list[dict[str, Any]] = []
    for key in sorted(by_seed):
        items = sorted(by_seed[key], key=lambda jv: jv[0].output_dir)
        vals = [v for _, v in items]
        lo, hi = min(vals), max(vals)
        if hi - lo > INVARIANT_RTOL * max(1.0, abs(hi), abs(lo)):
            invariant = False
        per_seed.append(math.fsum(vals) / len(vals))
        seeds.append(items[0][0].seed)
        refs.extend(j.ref() for j, _ in items)
    mean, std = mean_std(per_seed)
    return (
        Stats(mean=mean, std=std, n=len(per_seed), values=tuple(per_seed), seeds=tuple(seeds), jobs=tuple(refs)),
        invariant,
    )


def flatten(cfg: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> leaf value; lists are leaves (compared as JSON)."""
    out: dict[str, Any] = {}
    if isinstance(cfg, dict):
        if not cfg and prefix:
            out[prefix] = {}
        for k in sorted(cfg, key=str):
            key = f"{prefix}.{k}" if prefix else str(k)
            out.update(flatten(cfg[k], key))
    else:
        out[prefix] = cfg
    return out


def _ignored(key: str, prefixes: Iterable[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def config_differences(jobs: list[Job], ignore: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """Keys (not ignored) whose values differ between jobs -> {value json: [output dirs]}."""
    ignore = tuple(ignore)
    flats = [(j, flatten(j.config)) for j in jobs]
    keys = sorted({k for _, f in flats for k in f if not _ignored(k, ignore)})
    diffs: dict[str, dict[str, list[str]]] = {}
    missing = "<missing>"
    for k in keys:
        seen: dict[str, list[str]] = {}
        for j, f in flats:
            seen.setdefault(_canon(f[k]) if k in f else missing, []).append(j.output_dir)
        if len(seen) > 1:
            diffs[k] = seen
    return diffs


def variant_label_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return _canon(value)
    return value


@dataclass
class TableGroup:
    """All jobs (and failed jobs) of one (suite, table)."""

    suite: str
    table: str
    vary: tuple[str, ...]
    variants: list[tuple[dict[str, Any], list[Job]]] = field(default_factory=list)  # sorted
    failed: list[FailedJob] = field(default_factory=list)
    row_config_differences: list[str] = field(default_factory=list)
    layout: dict[str, Any] | None = None  # the declared experiment.report (None: the default)
    adhoc: bool = False  # jobs run without experiment=: vary keys inferred from their configs

    @property
    def jobs(self) -> list[Job]:
        return sorted((j for _, js in self.variants for j in js), key=lambda j: j.output_dir)

    def variant_jobs(self) -> list[list[Job]]:
        return [js for _, js in self.variants]


def value_sort_key(value: Any) -> tuple:
    if value is None:
        return (3, 0.0, "")
    if isinstance(value, bool):
        return (1, float(value), str(value))
    if is_number(value):
        return (0, float(value), "")
    return (2, 0.0, str(value))


def group(
    jobs: list[Job],
    failed: list[FailedJob],
    ignore: Iterable[str] = DEFAULT_IGNORED_KEYS,
) -> tuple[list[TableGroup], list[FailedJob]]:
    """(suite, table) groups sorted by name, plus the failed jobs that could not be attributed.

    Raises AvengersError when jobs of one variant differ in a config key other than seed / vary /
    ignored keys, when the same seed appears twice in one variant, or when a vary key is unknown.
    """
    ignore = tuple(ignore)
    by_table: dict[tuple[str, str], list[Job]] = {}
    for j in jobs:
        by_table.setdefault((j.suite, j.table), []).append(j)
    failed_by_table: dict[tuple[str, str], list[FailedJob]] = {}
    unattributed: list[FailedJob] = []
    for f in failed:
        if f.suite and f.table:
            failed_by_table.setdefault((f.suite, f.table), []).append(f)
        else:
            unattributed.append(f)

    groups: list[TableGroup] = []
    for suite, table in sorted(set(by_table) | set(failed_by_table)):
        tjobs = by_table.get((suite, table), [])
        adhoc = bool(tjobs) and all(j.adhoc for j in tjobs)
        varies = sorted({j.vary for j in tjobs})
        if len(varies) > 1:
            raise AvengersError(
                f"{suite}/{table}: jobs disagree on experiment.vary ({' vs '.join(map(str, map(list, varies)))}); "
                "rerun the sweep or pass the runs of one experiment."
            )
        vary = inferred_vary(tjobs, ignore) if adhoc else (varies[0] if varies else ())
        layouts = sorted({_canon(j.layout) for j in tjobs})
        if len(layouts) > 1:
            raise AvengersError(f"{suite}/{table}: jobs declare different experiment.report layouts; "
                                "pass the runs of one version of the experiment.")
        g = TableGroup(suite=suite, table=table, vary=vary, failed=failed_by_table.get((suite, table), []),
                       layout=tjobs[0].layout if tjobs else None, adhoc=adhoc)
        variants: dict[str, tuple[dict[str, Any], list[Job]]] = {}
        for j in tjobs:
            flat = flatten(j.config)
            values: dict[str, Any] = {}
            for k in vary:
                if adhoc:  # inferred keys: a job may lack one (e.g. a parameter of one method)
                    values[k] = variant_label_value(get_dotted(j.config, k, None))
                    continue
                if k not in flat and not _has_node(j.config, k):
                    raise AvengersError(
                        f"{suite}/{table}: experiment.vary names {k!r}, which is not in the config of "
                        f"{j.output_dir}.{did_you_mean(k, flat)}"
                    )
                values[k] = variant_label_value(get_dotted(j.config, k))
            variants.setdefault(_canon(values), (values, []))[1].append(j)
        ordered = sorted(variants.values(), key=lambda vj: tuple(value_sort_key(vj[0][k]) for k in vary))
        for values, vjobs in ordered:
            vjobs.sort(key=job_order)
            _check_variant(suite, table, vary, values, vjobs, ignore)
        g.variants = [(values, vjobs) for values, vjobs in ordered]
        if len(ordered) > 1:
            g.row_config_differences = sorted(config_differences(g.jobs, ignore + ("seed",) + vary))
        groups.append(g)
    return groups, unattributed


# Nodes that mirror another one (the router's copy of the clustering config).
MIRRORS = ("router.clustering",)


def inferred_vary(jobs: list[Job], ignore: Iterable[str]) -> tuple[str, ...]:
    """The settings an ad-hoc sweep varies: config keys that differ between its jobs (not seed),
    where a group's `name` stands for the keys it determines (clustering=kmeans,gmm varies
    `clustering.name`, not every parameter of the two methods)."""
    diffs = config_differences(jobs, tuple(ignore) + ("seed",) + MIRRORS)
    flats = [flatten(j.config) for j in jobs]
    keys = set(diffs)
    for name_key in [k for k in diffs if k.endswith(".name")]:
        group = name_key[: -len(".name")]
        for k in [k for k in keys if k.startswith(group + ".") and k != name_key]:
            by_name: dict[str, set[str]] = {}
            for f in flats:
                by_name.setdefault(_canon(f.get(name_key)), set()).add(_canon(f.get(k)))
            if all(len(v) == 1 for v in by_name.values()):  # fixed by the group's choice
                keys.discard(k)
    return tuple(sorted(keys))


def _has_node(cfg: dict[str, Any], key: str) -> bool:
    try:
        get_dotted(cfg, key)
    except KeyError:
        return False
    return True


def variant_text(vary: Iterable[str], values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={values[k]}" for k in vary) or "(no vary keys)"


def _check_variant(
    suite: str, table: str, vary: tuple[str, ...], values: dict[str, Any], jobs: list[Job], ignore: tuple[str, ...]
) -> None:
    where = f"{suite}/{table} [{variant_text(vary, values)}]"
    diffs = config_differences(jobs, ignore + ("seed",) + vary)
    if diffs:
        key = next(iter(diffs))
        shown = "; ".join(f"{val} in {', '.join(dirs[:3])}{' …' if len(dirs) > 3 else ''}" for val, dirs in diffs[key].items())
        more = f" (and {len(diffs) - 1} more key(s): {', '.join(list(diffs)[1:6])})" if len(diffs) > 1 else ""
        raise AvengersError(
            f"{where}: refusing to average jobs whose configs differ in {key!r}: {shown}{more}. "
            f"Only 'seed' and the experiment's vary keys {list(vary)} may differ within a cell; "
            "add the key to experiment.vary, or pass the runs of each setup separately."
        )
    seen: dict[tuple, Job] = {}
    for j in jobs:
        k = seed_key(j.seed)
        if k in seen:
            raise AvengersError(
                f"{where}: seed {j.seed!r} appears twice ({seen[k].output_dir} and {j.output_dir}); "
                "averaging both would count it twice. Remove one of the folders or pass only one of them."
            )
        seen[k] = j
