"""The thread count of a fit (als_lib.threads): what the process may use, the plan per iteration,
torch's setting restored, and results that do not depend on the count."""

import numpy as np
import pytest
import torch

import als_lib
from als_lib import BayesianALS, ExplicitALS, ImplicitALS
from als_lib.threads import (FORCED_PROBE, MIN_SHARED_WORK, ThreadPlan, busy_cpus,
                             cgroup_cpu_quota, thread_ceiling, usable_cpus)

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


def test_busy_cpus_reads_the_runnable_tasks_of_other_processes(tmp_path):
    f = tmp_path / "loadavg"
    f.write_text("0.50 0.40 0.30 4/211 12345\n")
    tasks = tmp_path / "task"
    for tid, state in ((10, "R"), (11, "S"), (12, "R")):     # two of our own threads run
        (tasks / str(tid)).mkdir(parents=True)
        (tasks / str(tid) / "stat").write_text(f"{tid} (python (x)) {state} 1 2 3\n")
    assert busy_cpus(f, tasks) == 2
    assert busy_cpus(f, tmp_path / "no_tasks") == 3           # the caller at least
    assert busy_cpus(tmp_path / "absent") is None


def _plan(monkeypatch, busy):
    """A plan with a ceiling of 2 on 2 CPUs, and ``busy[0]`` other tasks running."""
    monkeypatch.setattr(als_lib.threads, "thread_ceiling", lambda threads=None: 2)
    monkeypatch.setattr(als_lib.threads, "usable_cpus", lambda: 2)
    monkeypatch.setattr(als_lib.threads, "busy_cpus", lambda: busy[0])
    return ThreadPlan(None, MIN_SHARED_WORK, CPU)


def _run(plan, seconds_of, n=13):
    """Run n iterations with the given time per thread count."""
    saved = torch.get_num_threads()
    with plan:
        for _ in range(n):
            k = plan.iteration()
            assert torch.get_num_threads() == k
            plan.record(seconds_of[k])
    assert torch.get_num_threads() == saved            # restored when the fit ends
    return plan.counts[-n:]


def test_an_idle_machine_gets_every_thread(monkeypatch):
    assert _run(_plan(monkeypatch, [0]), {2: 1.0, 1: 1.6}) == [2] * 13


def test_a_busy_machine_gets_one_thread_without_a_slow_try(monkeypatch):
    # one other task on 2 CPUs: one thread from the start, no try while the CPUs stay busy
    assert _run(_plan(monkeypatch, [1]), {2: 9.0, 1: 1.6}, n=FORCED_PROBE - 1) == \
        [1] * (FORCED_PROBE - 1)


def test_contention_that_starts_during_the_fit_is_left_at_once(monkeypatch):
    busy = [0]
    plan = _plan(monkeypatch, busy)
    _run(plan, {2: 1.0, 1: 1.6}, n=3)
    busy[0] = 1
    assert _run(plan, {2: 3.0, 1: 1.6}, n=4) == [2, 1, 1, 1]


def test_all_threads_come_back_when_the_cpus_are_free_again(monkeypatch):
    busy = [1]
    plan = _plan(monkeypatch, busy)
    _run(plan, {2: 9.0, 1: 1.6}, n=3)
    busy[0] = 0
    assert _run(plan, {2: 1.0, 1: 1.6}, n=3) == [2, 2, 2]


def test_a_busy_looking_host_still_tries_all_threads_with_back_off(monkeypatch):
    # /proc/loadavg of a busy host (a container): tries after FORCED_PROBE, then twice as long
    plan = _plan(monkeypatch, [40])
    counts = _run(plan, {2: 9.0, 1: 1.6}, n=3 * FORCED_PROBE + 3)
    tries = [j for j, k in enumerate(counts) if k == 2]
    assert tries == [FORCED_PROBE, 3 * FORCED_PROBE + 1]


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
    """The fast paths' kernels split work by rows, not inside a sum, so the thread count does
    not change a result (bit for bit on the development machine; MKL may split a long matrix
    product's sum on other CPUs, hence the tolerance at float32's last bits)."""
    data = als_lib.synthetic_ratings(3000, 1500, 60_000, rank=8, kind="explicit", seed=0)
    saved = torch.get_num_threads()
    one = make(1).fit(data, progress=False)
    two = make(2).fit(data, progress=False)
    auto = make(None).fit(data, progress=False)
    assert torch.get_num_threads() == saved
    np.testing.assert_allclose(one.user_factors, two.user_factors, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one.item_factors, auto.item_factors, rtol=1e-5, atol=1e-6)
    assert one.history_["threads"][1:] == [1] * (len(one.history_["threads"]) - 1)
    assert two.history_["threads"][1:] == [2] * (len(two.history_["threads"]) - 1)
    assert two.history_["threads"][0] is None


@pytest.mark.parametrize("model, cls", [
    (lambda: ExplicitALS(8, iterations=2, threads=1), als_lib.als.Side),
    (lambda: ImplicitALS(8, iterations=2, threads=1), als_lib.implicit.ImplicitSide),
    (lambda: BayesianALS(8, samples=2, burn_in=0, threads=1), als_lib.als.Side),
], ids=["explicit", "implicit", "bayes"])
def test_the_set_up_runs_on_the_plans_threads(model, cls, monkeypatch):
    """Building the sides (the set-up) happens inside the plan: on its thread count, and
    torch's own setting is back afterwards."""
    seen = []
    build = cls.build.__func__

    def spy(kind, *args, **kwargs):
        seen.append(torch.get_num_threads())
        return build(kind, *args, **kwargs)

    monkeypatch.setattr(cls, "build", classmethod(spy))
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        model().fit(als_lib.toy_ratings(), progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(saved)
    assert seen and set(seen) == {1}
