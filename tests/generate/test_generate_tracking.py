"""avengers-generate in W&B (offline): samples, tokens, throughput, cost, finish reasons and
failures in the run summary, read back from the offline files."""

from __future__ import annotations

import subprocess

from collect_helpers import cli, env, overrides
from wandb_offline import offline_runs


def test_generate_run_is_tracked_and_a_failed_one_says_so(fake_server, tmp_path):
    srv = fake_server()
    e = env()
    e.pop("WANDB_MODE", None)  # the test session disables W&B; this test wants it
    e["WANDB_DIR"] = str(tmp_path / "wb")
    ovr = overrides(srv.base_url, tmp_path, limit=3, n=2) + ["tracking=wandb_offline"]
    p = subprocess.run(cli() + ovr, env=e, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    [run] = offline_runs(tmp_path / "wb")
    assert run.job_type == "generate" and run.group == "generate-local_gemma" and run.exit_code == 0
    s = run.summary
    assert s["generate/samples"] == 6 and s["generate/new_samples"] == 6 and s["generate/failed"] == 0
    assert s["generate/finish_reason/stop"] == 6
    assert s["generate/prompt_tokens"] > 0 and s["generate/completion_tokens"] > 0
    assert s["generate/samples_per_s"] > 0 and s["generate/tokens_per_s"] > 0
    assert s["generate/cost"] == 0.0  # local_gemma is priced at 0
    assert 0.0 <= s["generate/score/gemma-3-270m/e2e_arith"] <= 1.0

    bad = [o for o in ovr if not o.startswith("+benchmark")] + ["+benchmark={names:[e2e_arihm]}"]
    p = subprocess.run(cli() + bad, env=e, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "e2e_arith" in p.stderr and "Traceback" not in p.stderr
    failed = [r for r in offline_runs(tmp_path / "wb") if r.exit_code == 1]
    assert len(failed) == 1 and failed[0].summary["generate/failed"] == 1
    assert "e2e_arihm" in failed[0].summary["generate/error"]
