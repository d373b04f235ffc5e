"""Resident memory of running processes, sampled in a background thread (Linux: VmRSS from
/proc/<pid>/status). Used by soak.py (each gunicorn worker over ten minutes) and engine.py
(the Celery workers during the 10,000-breach run):

    sampler = rss.watch(roots, interval=10)   # the processes and their children
    ...
    report = sampler.stop()   # {pid: {"name", "start_mb", "max_mb", "end_mb", "slope_mb_per_min",
    #                                    "slope_second_half_mb_per_min", "samples"}}

A process that appears under a root later (a worker gunicorn or Celery replaced) is
picked up at the next sample; one that exits keeps its samples.
"""

import threading
import time
from pathlib import Path


def rss_mb(pid):
    """VmRSS of one process in MB, or None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def _name(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()[:120]
    except OSError:
        return "?"


def descendants(pid):
    """pid and every process below it."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, ()))
    return found


def slope(samples):
    """Least-squares slope of (seconds, MB) samples, in MB per minute (0 with fewer than 2)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if not var:
        return 0.0
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / var * 60


class Sampler:
    def __init__(self, roots, interval, only_children):
        self.roots, self.interval, self.only_children = list(roots), interval, only_children
        self.samples, self.names = {}, {}
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _pids(self):
        pids = []
        for root in self.roots:
            tree = descendants(root)
            pids += tree[1:] if self.only_children else tree
        return pids

    def sample(self):
        now = time.monotonic() - self.started
        for pid in self._pids():
            mb = rss_mb(pid)
            if mb is None:
                continue
            if pid not in self.names:
                self.names[pid] = _name(pid)
            self.samples.setdefault(pid, []).append((round(now, 1), round(mb, 1)))

    def _run(self):
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def stop(self):
        self._stop.set()
        self._thread.join(self.interval + 5)
        self.sample()
        return {
            pid: {
                "name": self.names[pid],
                "start_mb": samples[0][1],
                "max_mb": max(mb for _, mb in samples),
                "end_mb": samples[-1][1],
                "slope_mb_per_min": round(slope(samples), 3),
                # Caches fill early on; a leak keeps growing in the second half too.
                "slope_second_half_mb_per_min": round(slope(samples[len(samples) // 2 :]), 3),
                "samples": samples,
            }
            for pid, samples in self.samples.items()
        }


def watch(roots, interval=1.0, only_children=False):
    """Start sampling `roots` (pids, or objects with .pid) and all their children now."""
    return Sampler([getattr(root, "pid", root) for root in roots], interval, only_children)


def max_mb(report):
    """The largest RSS any process of a report reached (MB)."""
    return max((entry["max_mb"] for entry in report.values()), default=None)
