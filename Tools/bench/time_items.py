"""pyperf script: time per item of trivial tasks, for each contender.

Run by "bench_as_completed.py time", once per number of tasks; pyperf
spawns the worker processes and writes its JSON file (-o).
"""

import asyncio
import time

import pyperf

from contenders import CONTENDERS, trivial


def time_runs(loops, run, n, limit):
    """Time *loops* runs of n trivial tasks; return the total seconds."""
    elapsed = 0.0
    with asyncio.Runner() as runner:
        for _ in range(loops):
            start = time.perf_counter()
            completed = runner.run(run(trivial, n, limit))
            elapsed += time.perf_counter() - start
            if completed != n:
                raise RuntimeError(f"{completed} tasks completed of {n}")
    return elapsed


def forward_args(command, args):
    command.extend(["--n", str(args.n), "--limit", str(args.limit),
                    "--contenders", args.contenders])


def main():
    runner = pyperf.Runner(add_cmdline_args=forward_args)
    runner.argparser.add_argument("--n", type=int, required=True)
    runner.argparser.add_argument("--limit", type=int, required=True)
    runner.argparser.add_argument("--contenders", required=True,
                                  help="comma-separated contender names")
    args = runner.parse_args()
    for name in args.contenders.split(","):
        runner.bench_time_func(name, time_runs, CONTENDERS[name][0],
                               args.n, args.limit, inner_loops=args.n)


if __name__ == "__main__":
    main()
