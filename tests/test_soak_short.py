"""The short soak in CI: a few hundred scripted steps with injected faults, concurrently."""

from __future__ import annotations

from pathlib import Path

from agentkit.testing.soak import run_soak


def test_short_soak(tmp_path: Path) -> None:
    report = run_soak(runs=24, steps_per_run=5, concurrency=8, fault_rate=0.05, seed=7, trajectory_dir=tmp_path)
    assert report.hangs == 0 and report.replayed == 0
    assert report.recorded == report.runs == 24, report
    assert report.faults_injected > 0
    assert report.fds_after <= report.fds_before + 8, report
    assert report.threads_after <= report.threads_before + 2, report
    # faults are survivable: most runs complete, and none ended without a status
    assert report.statuses.get("completed", 0) >= 20, report
    assert report.tool_calls >= 20 * 5
