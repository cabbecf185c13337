r"""How many threads a fit uses (Chapter 9, "Threads on a shared machine").

Every torch operation on a large enough CPU tensor runs as an OpenMP parallel region that ends
in a barrier. An ALS half-step is dozens of such operations, each with tens of microseconds of
work. On an idle machine two threads make a fit faster; when another process holds a core, the
thread that waits at a barrier spins while the thread holding the work waits for a core, and
the same fit takes two to three times as long as on one thread (measured in Chapter 9 and
``benchmarks/implicit_als.py --contention``). No count of threads is right on every machine, so
a fit decides as it goes:

1. the ceiling is the number of CPUs this process may really use: its affinity mask and its
   cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``), and never
   more than torch's own setting (`torch.get_num_threads`);
2. a problem too small to share (fewer than `MIN_SHARED_WORK` ratings times factors) runs on
   one thread;
3. otherwise the fit times its iterations on both counts (the ceiling, then one thread, then
   the ceiling again) and keeps the faster, probing the other count again every
   `REPROBE_EVERY` iterations, since the load on a machine changes.

The thread count never changes the numbers a fit computes: every kernel of the fast paths sums
in the same order on any number of threads (``tests/test_threads.py`` checks that factors are
bit-for-bit equal). torch's process-wide setting is changed only around the half-steps and
restored after each iteration, so evaluation and callbacks run at the caller's setting.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

__all__ = ["usable_cpus", "cgroup_cpu_quota", "thread_ceiling", "ThreadPlan",
           "MIN_SHARED_WORK", "REPROBE_EVERY"]

#: int: Below this many ratings times factors (|Omega| k), a fit runs on one thread. The smallest
#: size measured on 2 idle cores (``benchmarks/threads_crossover.py``, 2,500 ratings at k = 64): two
#: threads gained 3% (ImplicitALS) to 26% (ExplicitALS), well under a millisecond per iteration.
MIN_SHARED_WORK = 160_000

#: int: How often (in iterations) an adaptive fit tries the thread count it is not using.
REPROBE_EVERY = 5


def cgroup_cpu_quota(root: str | os.PathLike = "/sys/fs/cgroup",
                     proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> float | None:
    """The CPU quota of this process's cgroup, in CPUs (``quota / period``), or None if
    there is none.

    Reads cgroup v2 (``cpu.max``: ``"max 100000"`` or ``"150000 100000"``) and v1
    (``cpu/cpu.cfs_quota_us``, -1 for none, over ``cpu/cpu.cfs_period_us``), at the process's
    own cgroup path and at the mount's root; the smallest quota found wins.

    Parameters
    ----------
    root : path
        Where the cgroup file system is mounted.
    proc_cgroup : path
        The file that names this process's cgroups.

    Returns
    -------
    float or None
        CPUs' worth of time per period, e.g. 1.5; None without a quota.
    """
    root = Path(root)
    paths = {""}
    try:
        for line in Path(proc_cgroup).read_text().splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3 and (parts[1] in ("", "cpu") or "cpu" in parts[1].split(",")):
                paths.add(parts[2].lstrip("/"))
    except OSError:
        pass
    quotas = []
    for rel in paths:
        for base in (root, root / "cpu", root / "cpu,cpuacct"):
            d = base / rel if rel else base
            try:
                quota, period = (d / "cpu.max").read_text().split()[:2]
                if quota != "max":
                    quotas.append(int(quota) / int(period))
                continue
            except (OSError, ValueError):
                pass
            try:
                quota = int((d / "cpu.cfs_quota_us").read_text())
                period = int((d / "cpu.cfs_period_us").read_text())
                if quota > 0 and period > 0:
                    quotas.append(quota / period)
            except (OSError, ValueError):
                pass
    return min(quotas) if quotas else None


def usable_cpus() -> int:
    """The number of CPUs this process may run on at once: its affinity mask, cut to its cgroup
    CPU quota (rounded down, at least 1).

    Returns
    -------
    int
        At least 1.
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    if quota is not None:
        n = min(n, max(1, math.floor(quota)))
    return max(1, n)


def thread_ceiling(threads: int | None = None) -> int:
    """The most threads a fit may use: ``threads`` if given, else `usable_cpus` capped by
    torch's own setting.

    Parameters
    ----------
    threads : int, optional
        An explicit count (the model's ``threads`` argument).

    Returns
    -------
    int
        At least 1.
    """
    if threads is not None:
        return int(threads)
    return max(1, min(usable_cpus(), torch.get_num_threads()))


class ThreadPlan:
    """The thread count of each iteration of one fit, and torch's setting restored after it.

    Parameters
    ----------
    threads : int or None
        The model's ``threads``: a fixed count, or None to decide (see the module docstring).
    work : int
        Ratings times factors, :math:`|\\Omega| k`: the size of one sparse pass.
    device : torch.device
        Threads matter only on the CPU; elsewhere the plan does nothing.

    Attributes
    ----------
    counts : list of int
        The thread count each iteration ran on (for ``history_["threads"]``).
    """

    def __init__(self, threads: int | None, work: int, device: torch.device):
        self.cpu = torch.device(device).type == "cpu"
        self.fixed = threads is not None
        top = thread_ceiling(threads)
        if not self.fixed and work < MIN_SHARED_WORK:
            top = 1
        self.top = top
        self.counts: list[int] = []
        self.best: dict[int, float] = {}     # the latest time on each count
        self._saved = None

    def next_count(self) -> int:
        """The thread count for the next iteration.

        Returns
        -------
        int
            The fixed count; or, deciding: the ceiling, one thread and the ceiling again for
            the first three iterations, then the faster of the two, with the other one tried
            every `REPROBE_EVERY` iterations.
        """
        if self.fixed or self.top == 1:
            return self.top
        it = len(self.counts)
        if it < 3:                        # probe: ceiling, one thread, ceiling
            return (self.top, 1, self.top)[it]
        keep = min(self.best, key=self.best.get)
        other = 1 if keep == self.top else self.top
        return other if (it - 3) % REPROBE_EVERY == REPROBE_EVERY - 1 else keep

    def __enter__(self) -> int:
        n = self.next_count()
        if self.cpu:
            self._saved = torch.get_num_threads()
            if n != self._saved:
                torch.set_num_threads(n)
        self.counts.append(n)
        return n

    def record(self, seconds: float) -> None:
        """Note the wall time of the iteration just run.

        Parameters
        ----------
        seconds : float
            Its wall-clock time, as the caller waited for it (contention included).
        """
        n = self.counts[-1]
        # the first iteration also pays first-call costs: the probe on the ceiling repeats it
        if len(self.counts) == 3 and n in self.best:
            self.best[n] = min(self.best[n], seconds)
        else:
            self.best[n] = seconds

    def __exit__(self, *exc) -> None:
        if self.cpu and self._saved is not None and torch.get_num_threads() != self._saved:
            torch.set_num_threads(self._saved)
