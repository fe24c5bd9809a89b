"""Run one contender once, in this fresh process, and print one JSON line.

Used by bench_as_completed.py for the memory and latency benchmarks, so
that each point starts from a new interpreter.
"""

import argparse
import asyncio
import json
import random
import time
import tracemalloc

from contenders import CONTENDERS, trivial


def latency_work(n, mean_delay, seed):
    """Return a work function sleeping a seeded uniform 0..2*mean_delay.

    The function also adds up the time each sleep really took, which the
    event loop's timer resolution makes longer than asked.
    """
    rng = random.Random(seed)
    delays = [rng.uniform(0, 2 * mean_delay) for _ in range(n)]
    slept = [0.0]

    async def work(i):
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(delays[i])
        slept[0] += loop.time() - start

    return work, slept


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("contender", choices=CONTENDERS)
    parser.add_argument("--n", type=int, required=True,
                        help="number of tasks")
    parser.add_argument("--limit", type=int, required=True,
                        help="at most this many tasks at once")
    parser.add_argument("--workload", choices=("trivial", "latency"),
                        default="trivial")
    parser.add_argument("--mean-delay", type=float, default=0.010,
                        help="latency workload: mean sleep in seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="report the tracemalloc peak of the run")
    args = parser.parse_args()

    run = CONTENDERS[args.contender][0]
    if args.workload == "latency":
        work, slept = latency_work(args.n, args.mean_delay, args.seed)
    else:
        work, slept = trivial, None
    result = {"contender": args.contender, "n": args.n, "limit": args.limit}
    with asyncio.Runner() as runner:
        if args.tracemalloc:
            tracemalloc.start()
        start_cpu = time.process_time()
        start = time.perf_counter()
        completed = runner.run(run(work, args.n, args.limit))
        result["seconds"] = time.perf_counter() - start
        result["cpu_seconds"] = time.process_time() - start_cpu
        if args.tracemalloc:
            result["tracemalloc_peak_bytes"] = (
                tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    if completed != args.n:
        parser.exit(1, f"{args.contender} completed {completed} tasks"
                       f" of {args.n}\n")
    if slept is not None:
        result["mean_sleep_seconds"] = slept[0] / args.n
    print(json.dumps(result))


if __name__ == "__main__":
    main()
