"""A process's own peak memory, for the bench's child processes.

``getrusage(RUSAGE_SELF).ru_maxrss`` survives ``exec``: a child started by the bench (fork, then
exec of a fresh interpreter) reports the bench parent's peak when that was higher. The
many-dump rows printed the same 385 MB for one process, two workers and the pyarrow floor:
the parent's peak, not theirs. ``VmHWM`` of /proc/self/status is the peak of this address
space only (Linux); elsewhere ``ru_maxrss`` is what there is.
"""

from __future__ import annotations

import resource
import sys


def peak_mb() -> float:
    """This process's own peak resident memory, MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    per_mb = 2**20 if sys.platform == "darwin" else 1024  # macOS counts bytes, Linux KB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / per_mb


def children_peak_mb() -> float:
    """The largest peak of the waited-for children (worker processes): ``ru_maxrss``, which a
    child started after this process grew would share; the workers' fork server starts first."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
