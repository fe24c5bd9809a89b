"""Instructions per item, counted by callgrind: a cost that the machine's
load does not change.

Each contender runs N and 2N trivial items (``await asyncio.sleep(0)``,
limit 100) in a fresh ``run_once.py`` under ``valgrind --tool=callgrind``;
the difference divided by N is the cost of one item, start-up, shutdown and
the run's own bookkeeping cancelled out.  Needs
Debian's ``valgrind``.  To compare two versions of the change, run it with
each one's ``asyncio`` first on PYTHONPATH.

    python Tools/bench/instructions.py [-n 5000] [CONTENDER ...]
"""

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

from contenders import CONTENDERS

DEFAULT = ("floor", "ours-async-for", "ours-for")
LIMIT = 100
RUN_ONCE = Path(__file__).with_name("run_once.py")


def collected(contender, n):
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, RUN_ONCE, contender, "--n", str(n),
         "--limit", str(LIMIT)],
        capture_output=True, text=True, check=True).stderr
    return int(re.search(r"Collected : (\d+)", out).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("contenders", nargs="*", metavar="CONTENDER",
                        help=f"of {', '.join(sorted(CONTENDERS))} "
                             f"(default: {' '.join(DEFAULT)})")
    parser.add_argument("-n", type=int, default=5000)
    args = parser.parse_args()
    unknown = set(args.contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contender: {', '.join(sorted(unknown))}")
    if shutil.which("valgrind") is None:
        sys.exit("instructions: valgrind not found: apt-get install valgrind")
    floor = None
    for name in args.contenders or DEFAULT:
        per_item = (collected(name, 2 * args.n)
                    - collected(name, args.n)) // args.n
        floor = per_item if name == "floor" else floor
        ratio = f"  {per_item / floor:.3f}x the floor" if floor else ""
        print(f"{CONTENDERS[name][1]:<40} {per_item:>8,} instructions/item"
              f"{ratio}")


if __name__ == "__main__":
    main()
