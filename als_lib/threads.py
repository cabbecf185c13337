r"""How many threads a fit uses (Chapter 9, "Threads on a shared machine").

Every torch operation on a large enough CPU tensor runs as an OpenMP parallel region that ends
in a barrier. An ALS half-step is dozens of such operations, each with tens of microseconds of
work. On an idle machine two threads make a fit faster; when another process holds a core, the
thread whose share of a region runs on that core finishes late, the other waits for it at the
barrier, and the same fit can take more than twice as long as on one thread (measured in
Chapters 6 and 9 and by ``benchmarks/implicit_als.py --modes busy``). No count of threads is right on every machine, so
a fit decides as it goes:

1. the ceiling is the number of CPUs this process may really use: its affinity mask and its
   cgroup CPU quota (v2 ``cpu.max``, v1 ``cpu.cfs_quota_us / cpu.cfs_period_us``), and never
   more than torch's own setting (`torch.get_num_threads`);
2. a problem too small to share (fewer than `MIN_SHARED_WORK` ratings times factors) runs on
   one thread;
3. otherwise it starts on as many threads as there are CPUs free, read from the number of
   runnable tasks in ``/proc/loadavg`` (all of them when that file is missing), and it watches its
   own iterations: an iteration on several threads that takes more than twice the fastest one
   seen on that count means another process took a core, and the fit goes on one thread; while
   on one thread it tries all of them again for one iteration when ``/proc/loadavg`` shows the
   CPUs free, and otherwise after `FORCED_PROBE` iterations, then twice as many each time the
   try loses (a host-wide ``/proc/loadavg`` in a container can look busy for ever).

The thread count does not change the numbers a fit computes: the fast paths' kernels split their
work by rows, not inside a sum (on the development machine the factors are equal bit for bit on
one and two threads; ``tests/test_threads.py`` checks them to float32's last bits). torch's process-wide setting is changed for the length of ``fit`` (set-up,
iterations, evaluation and callbacks) and restored when ``fit`` returns or raises.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

__all__ = ["usable_cpus", "cgroup_cpu_quota", "thread_ceiling", "busy_cpus", "ThreadPlan",
           "MIN_SHARED_WORK", "FORCED_PROBE"]

#: int: Below this many ratings times factors, a fit runs on one thread. The smallest
#: size measured on 2 idle cores (``benchmarks/threads_crossover.py``, 2,500 ratings at k = 64): two
#: threads gained 3% (ImplicitALS) to 26% (ExplicitALS), well under a millisecond per iteration.
MIN_SHARED_WORK = 160_000

#: int: After how many iterations on one thread a fit tries all of them again even when
#: ``/proc/loadavg`` says the CPUs are busy (doubled after each try that loses).
FORCED_PROBE = 20


def cgroup_cpu_quota(root: str | os.PathLike = "/sys/fs/cgroup",
                     proc_cgroup: str | os.PathLike = "/proc/self/cgroup") -> float | None:
    """The CPU quota of this process's cgroup, in CPUs (``quota / period``), or None if
    there is none.

    Reads cgroup v2 (``cpu.max``: ``"max 100000"`` or ``"150000 100000"``) and v1
    (``cpu/cpu.cfs_quota_us``, -1 for none, over ``cpu/cpu.cfs_period_us``), at the process's
    own cgroup path and at the mount's root; the smallest quota found wins.

    Parameters
    ----------
    root : str or os.PathLike
        Where the cgroup file system is mounted.
    proc_cgroup : str or os.PathLike
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


def _own_running(task_dir: str | os.PathLike = "/proc/self/task") -> int:
    """How many of this process's threads are running or ready to run (state R), at least 1."""
    n = 0
    try:
        for task in Path(task_dir).iterdir():
            try:
                stat = (task / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) S ...": the state follows the last parenthesis
            if stat[stat.rfind(")") + 2:stat.rfind(")") + 3] == "R":
                n += 1
    except OSError:
        pass
    return max(1, n)


def busy_cpus(loadavg: str | os.PathLike = "/proc/loadavg",
              task_dir: str | os.PathLike = "/proc/self/task") -> int | None:
    """How many tasks of other processes are running or ready to run right now, system wide:
    the fourth field of ``/proc/loadavg`` (``running/total``) less this process's own running
    threads (the caller, and OpenMP workers still spinning after a parallel region).

    Parameters
    ----------
    loadavg : str or os.PathLike
        The file to read.
    task_dir : str or os.PathLike
        This process's threads (``/proc/self/task``).

    Returns
    -------
    int or None
        At least 0; None where the file cannot be read.
    """
    try:
        running = int(Path(loadavg).read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - _own_running(task_dir))


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
    work : int or None
        Ratings times factors, :math:`|\\Omega| k`: the size of one sparse pass; None when not
        known yet (`set_work` gives it once the ratings are read).
    device : str or torch.device
        Threads matter only on the CPU; elsewhere the plan does nothing.

    Attributes
    ----------
    counts : list of int
        The thread count each iteration ran on (for ``history_["threads"]``).
    """

    def __init__(self, threads: int | None, work: int | None, device):
        self.cpu = str(getattr(device, "type", device)).split(":")[0] == "cpu"
        self.fixed = threads is not None
        top = thread_ceiling(threads)
        if not self.fixed and work is not None and work < MIN_SHARED_WORK:
            top = 1
        self.top = top
        self.usable = usable_cpus()
        self.counts: list[int] = []
        self.best: dict[int, float] = {}     # the fastest iteration seen on each count
        self.current = top if self.fixed or top == 1 else self._free()
        self.wait = FORCED_PROBE             # iterations on one thread before a forced try
        self.since = 0                       # iterations on one thread since the last try
        self._saved = None

    def set_work(self, work: int) -> None:
        """Give the size of the problem once the ratings are read: below `MIN_SHARED_WORK` the
        fit runs on one thread (unless the count is fixed).

        Parameters
        ----------
        work : int
            Ratings times factors.
        """
        if not self.fixed and work < MIN_SHARED_WORK:
            self.top = self.current = 1
            self._set(1)

    def _free(self) -> int:
        """The threads that the CPUs free now can take, from 1 to the ceiling."""
        busy = busy_cpus()
        if busy is None:
            return self.top
        return max(1, min(self.top, self.usable - busy))

    def next_count(self) -> int:
        """The thread count for the next iteration.

        Returns
        -------
        int
            The fixed count; or, deciding: the current count, except for one iteration on all
            the threads (a try) when on one thread and the CPUs look free, or after the forced
            wait.
        """
        if self.fixed or self.top == 1 or self.current == self.top:
            return self.current
        if self._free() == self.top or self.since >= self.wait:
            return self.top
        return self.current

    def __enter__(self) -> "ThreadPlan":
        """Run the fit (set-up included) on the plan's count; torch's setting is restored on
        leaving."""
        if self.cpu:
            self._saved = torch.get_num_threads()
            self._set(self.current)
        return self

    def _set(self, n: int) -> None:
        if self.cpu and torch.get_num_threads() != n:
            torch.set_num_threads(n)

    def iteration(self) -> int:
        """Set the thread count of the next iteration.

        Returns
        -------
        int
            The count (see `next_count`).
        """
        n = self.next_count()
        self._set(n)
        self.counts.append(n)
        return n

    def record(self, seconds: float) -> None:
        """Note the wall time of the iteration just run, and choose the count of the next.

        Parameters
        ----------
        seconds : float
            Its wall-clock time, as the caller waited for it (contention included).
        """
        n = self.counts[-1]
        best = self.best.get(n)
        self.best[n] = seconds if best is None else min(best, seconds)
        if self.fixed or self.top == 1:
            return
        if n == self.top and self.current == self.top:
            # several threads, slowed down: another process took a core
            if best is not None and seconds > 2 * best:
                self.current, self.since = 1, 0
        elif n == self.top:                  # a try from one thread
            one = self.best.get(1)
            if one is None or seconds < one:
                self.current = self.top
            else:
                self.wait, self.since = 2 * self.wait, 0
        else:
            self.since += 1
        self._set(self.current)

    def __exit__(self, *exc) -> None:
        if self._saved is not None:
            self._set(self._saved)
