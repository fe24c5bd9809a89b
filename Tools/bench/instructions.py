"""Instructions per item, counted by callgrind: a cost that the machine's
load does not change.

Each contender runs 5,000 and 15,000 trivial items (``await
asyncio.sleep(0)``, limit 100) in a fresh ``run_once.py`` under
``valgrind --tool=callgrind``; the difference divided by 10,000 is the
cost of one item, start-up, shutdown and the run's own bookkeeping
cancelled out.  So that both runs do the same work besides the items,
the hash seed is fixed (the layout of sets and dicts) and they read the
bytecode of the modules they import from a cache of their own, written
by a run outside callgrind just before: another process writing or
removing a cache in between changes nothing.  The asyncio package is
hashed and its files' modification times read before and after: if either
changed in between (a file written again with the same text is compiled
again by the next run), the count is taken again, up to ATTEMPTS times.
Used by "bench_as_completed.py instructions"; needs Debian's ``valgrind``.
"""

import asyncio
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SIZES = (5000, 15000)
LIMIT = 100
ATTEMPTS = 3
RUN_ONCE = Path(__file__).with_name("run_once.py")
PACKAGE = Path(asyncio.__file__).parent  # The asyncio package run here.
VALGRIND_MISSING = ("valgrind not found: install Debian's valgrind"
                    " (apt-get install valgrind)")


def missing():
    """Return why nothing can be counted here, or None."""
    return VALGRIND_MISSING if shutil.which("valgrind") is None else None


def asyncio_digest():
    """Return the MD5 of the source of the asyncio package run here."""
    digest = hashlib.md5()
    for path in sorted(PACKAGE.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def asyncio_mtimes():
    """Return the modification times of the asyncio package's sources."""
    return [path.stat().st_mtime_ns for path in sorted(PACKAGE.glob("*.py"))]


def run_once(contender, n, cache, tool=()):
    """Run *contender* on *n* items in a fresh process; return its stderr."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPYCACHEPREFIX": cache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # The cache is written.
    run = subprocess.run(
        [*tool, sys.executable, RUN_ONCE, contender, "--n", str(n),
         "--limit", str(LIMIT)],
        capture_output=True, text=True, env=env)
    if run.returncode:
        sys.exit(f"instructions: {contender} with {n} items failed"
                 f"{' under callgrind' * bool(tool)} (exit code"
                 f" {run.returncode}):\n{run.stderr[-2000:]}")
    return run.stderr


def collected(contender, n, cache):
    """Return the instructions of one run of *n* items, start-up included,
    reading the bytecode cache *cache*."""
    stderr = run_once(contender, n, cache, (
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"))
    found = re.search(r"Collected : (\d+)", stderr)
    if found is None:
        sys.exit(f"instructions: no count in callgrind's output:\n"
                 f"{stderr[-2000:]}")
    return int(found.group(1))


def count(contender):
    """Return the row of *contender*: its counts and instructions/item,
    with the MD5 of the asyncio package counted."""
    small, large = SIZES
    for _ in range(ATTEMPTS):
        digest, mtimes = asyncio_digest(), asyncio_mtimes()
        with tempfile.TemporaryDirectory() as cache:
            run_once(contender, 1, cache)  # Writes the bytecode cache.
            counts = {n: collected(contender, n, cache) for n in SIZES}
        if (asyncio_digest(), asyncio_mtimes()) == (digest, mtimes):
            return {"contender": contender, "asyncio_md5": digest,
                    "collected": {str(n): counts[n] for n in SIZES},
                    "instructions_per_item": round(
                        (counts[large] - counts[small]) / (large - small))}
        print(f"instructions: {PACKAGE} changed while {contender} was"
              f" counted: counting again")
    sys.exit(f"instructions: {PACKAGE} changed at each of {ATTEMPTS}"
             f" counts of {contender}")
