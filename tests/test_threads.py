"""The thread count of a fit (als_lib.threads): what the process may use, the plan per iteration,
torch's setting restored, and results that do not depend on the count."""

import numpy as np
import pytest
import torch

import als_lib
from als_lib import BayesianALS, ExplicitALS, ImplicitALS
from als_lib.threads import (MIN_SHARED_WORK, REPROBE_EVERY, ThreadPlan, cgroup_cpu_quota,
                             thread_ceiling, usable_cpus)

CPU = torch.device("cpu")


def _tree(tmp_path, files, cgroup_line):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    proc = tmp_path / "proc_cgroup"
    proc.write_text(cgroup_line)
    return tmp_path, proc


def test_cgroup_v2_quota_at_the_process_path(tmp_path):
    root, proc = _tree(tmp_path, {"user.slice/job/cpu.max": "150000 100000\n",
                                  "cpu.max": "max 100000\n"}, "0::/user.slice/job\n")
    assert cgroup_cpu_quota(root, proc) == 1.5


def test_cgroup_v2_without_a_quota(tmp_path):
    root, proc = _tree(tmp_path, {"cpu.max": "max 100000\n"}, "0::/\n")
    assert cgroup_cpu_quota(root, proc) is None


def test_cgroup_v1_quota_and_no_quota(tmp_path):
    root, proc = _tree(tmp_path, {"cpu/cpu.cfs_quota_us": "100000\n",
                                  "cpu/cpu.cfs_period_us": "100000\n"}, "4:cpu,cpuacct:/\n")
    assert cgroup_cpu_quota(root, proc) == 1.0
    (root / "cpu/cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_quota(root, proc) is None


def test_no_cgroup_files_means_no_quota(tmp_path):
    assert cgroup_cpu_quota(tmp_path / "absent", tmp_path / "absent_too") is None


def test_usable_cpus_is_within_the_affinity_mask():
    assert 1 <= usable_cpus() <= len(__import__("os").sched_getaffinity(0))


def test_usable_cpus_follows_a_quota(monkeypatch):
    monkeypatch.setattr(als_lib.threads, "cgroup_cpu_quota", lambda: 1.0)
    assert usable_cpus() == 1
    monkeypatch.setattr(als_lib.threads, "cgroup_cpu_quota", lambda: 0.2)
    assert usable_cpus() == 1                     # never below one


def test_the_ceiling_never_exceeds_torch_setting():
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert thread_ceiling() == 1
        torch.set_num_threads(64)
        assert thread_ceiling() == usable_cpus()  # 64 threads on fewer CPUs: capped
        assert thread_ceiling(3) == 3             # an explicit count is taken as given
    finally:
        torch.set_num_threads(saved)


def test_a_small_problem_runs_on_one_thread(monkeypatch):
    monkeypatch.setattr(als_lib.threads, "thread_ceiling", lambda threads=None: threads or 4)
    plan = ThreadPlan(None, MIN_SHARED_WORK - 1, CPU)
    assert [plan.next_count() for _ in range(1)] == [1]
    assert ThreadPlan(2, 10, CPU).next_count() == 2    # unless the count is fixed


def _run(plan, seconds_of):
    """Run 13 iterations with the given time per thread count."""
    saved = torch.get_num_threads()
    for _ in range(13):
        with plan as n:
            assert torch.get_num_threads() == n
        assert torch.get_num_threads() == saved        # restored after each iteration
        plan.record(seconds_of[n])
    return plan.counts


def test_the_plan_probes_then_keeps_the_faster_count(monkeypatch):
    monkeypatch.setattr(als_lib.threads, "thread_ceiling", lambda threads=None: 2)
    idle = _run(ThreadPlan(None, MIN_SHARED_WORK, CPU), {2: 1.0, 1: 1.6})
    busy = _run(ThreadPlan(None, MIN_SHARED_WORK, CPU), {2: 3.0, 1: 1.6})
    assert idle[:3] == [2, 1, 2] and busy[:3] == [2, 1, 2]
    # after the probes, the faster count, with the other one tried every REPROBE_EVERY
    assert idle[3:].count(2) == 10 - 10 // REPROBE_EVERY
    assert busy[3:].count(1) == 10 - 10 // REPROBE_EVERY


def test_the_plan_follows_a_change_of_load(monkeypatch):
    monkeypatch.setattr(als_lib.threads, "thread_ceiling", lambda threads=None: 2)
    plan = ThreadPlan(None, MIN_SHARED_WORK, CPU)
    _run(plan, {2: 1.0, 1: 1.6})                       # idle: two threads
    assert plan.next_count() in (1, 2)
    counts = _run(plan, {2: 3.0, 1: 1.6})              # then a busy machine
    assert counts[-3:] == [1, 1, 1] or counts[-2:] == [1, 1]


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_threads_must_be_none_or_a_positive_integer(bad):
    data = als_lib.toy_ratings()
    for model in (ExplicitALS(2, threads=bad), ImplicitALS(2, threads=bad),
                  BayesianALS(2, samples=2, burn_in=0, threads=bad)):
        with pytest.raises(ValueError, match="threads must be None"):
            model.fit(data, progress=False)


@pytest.mark.parametrize("make", [
    lambda t: ExplicitALS(16, iterations=6, threads=t),
    lambda t: ExplicitALS(16, iterations=4, solver="cholesky", threads=t),
    lambda t: ImplicitALS(16, iterations=6, threads=t),
], ids=["explicit-cg", "explicit-cholesky", "implicit-cg"])
def test_the_thread_count_does_not_change_the_factors(make):
    """Every kernel of the fast paths sums in the same order on any number of threads, so the
    adaptive plan never changes a result: the factors are equal bit for bit."""
    data = als_lib.synthetic_ratings(3000, 1500, 60_000, rank=8, kind="explicit", seed=0)
    saved = torch.get_num_threads()
    one = make(1).fit(data, progress=False)
    two = make(2).fit(data, progress=False)
    auto = make(None).fit(data, progress=False)
    assert torch.get_num_threads() == saved
    assert np.array_equal(one.user_factors, two.user_factors)
    assert np.array_equal(one.item_factors, auto.item_factors)
    assert one.history_["threads"][1:] == [1] * (len(one.history_["threads"]) - 1)
    assert two.history_["threads"][1:] == [2] * (len(two.history_["threads"]) - 1)
    assert two.history_["threads"][0] is None
