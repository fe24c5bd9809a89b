"""The HTTP scenario of the "100 million requests" posts, on loopback.

"serve" answers GET /<anything> after a random 0-30 ms delay, on
127.0.0.1 and a free port that it prints, and stops by itself after
--lifetime seconds.  "fetch" makes --requests requests through one
aiohttp ClientSession, at most --limit at once with one contender, and
prints one JSON line; with --rss-every K it also samples its resident
set size (VmRSS of /proc/self/status) every K requests done, and at the
--timeout it reports the requests done so far instead of failing.
"""

import argparse
import asyncio
import functools
import json
import os
import random
import socket
import sys
import time

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

from contenders import CONTENDERS


async def serve(lifetime, max_delay, seed):
    rng = random.Random(seed)

    async def handle(request):
        await asyncio.sleep(rng.uniform(0, max_delay))
        return web.Response(text="Hello, World!")

    app = web.Application()
    app.router.add_get("/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    await web.SockSite(runner, listener).start()
    print(listener.getsockname()[1], flush=True)
    try:
        await asyncio.sleep(lifetime)
    finally:
        await runner.cleanup()


async def fetch_one(session, url_format, i):
    async with session.get(url_format.format(i)) as response:
        response.raise_for_status()
        return await response.read()


def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def record(contender, requests, limit, done, seconds, finished, rss_samples):
    """The JSON line of a fetch run: *done* of the *requests* asked."""
    result = {"contender": contender, "requests": done,
              "requests_asked": requests, "finished": finished,
              "limit": limit, "seconds": seconds,
              "requests_per_second": done / seconds}
    if rss_samples is not None:
        result["rss_samples_kib"] = rss_samples
    return result


def report_and_exit(contender, requests, limit, start, done, rss_samples):
    print(json.dumps(record(contender, requests, limit, done(),
                            time.perf_counter() - start, False, rss_samples)),
          flush=True)
    os._exit(0)


async def fetch(contender, port, requests, limit, timeout, rss_every):
    run = CONTENDERS[contender][0]
    url_format = f"http://127.0.0.1:{port}/{{}}"
    done = 0
    rss_samples = [[0, rss_kib()]]  # [requests done, VmRSS in KiB]

    async def fetch_sampling(session, i):
        nonlocal done
        body = await fetch_one(session, url_format, i)
        done += 1
        if done % rss_every == 0:
            rss_samples.append([done, rss_kib()])
        return body

    # No per-request timeouts: aiohttp's default 30 s to connect fails
    # Semaphore + gather at 10**6 requests on a loaded machine, its event
    # loop stepping through every waiting task between two connections.
    async with ClientSession(connector=TCPConnector(limit=limit),
                             timeout=ClientTimeout(total=None)) as session:
        if rss_every:
            work = functools.partial(fetch_sampling, session)
        else:
            work = functools.partial(fetch_one, session, url_format)
        start = time.perf_counter()
        if rss_every:
            # Cut short at the deadline: report the requests done and
            # leave at once.  Not by cancelling the run: cancelling 10**6
            # waiting tasks takes longer than the run is allowed.
            asyncio.get_running_loop().call_later(
                timeout, report_and_exit, contender, requests, limit, start,
                lambda: done, rss_samples)
            completed = await run(work, requests, limit)
        else:
            async with asyncio.timeout(timeout):
                completed = await run(work, requests, limit)
        seconds = time.perf_counter() - start
    return record(contender, requests, limit, completed, seconds, True,
                  rss_samples if rss_every else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the server")
    serve_parser.add_argument("--lifetime", type=float, required=True,
                              help="stop after this many seconds")
    serve_parser.add_argument("--max-delay", type=float, default=0.030)
    serve_parser.add_argument("--seed", type=int, default=1)
    fetch_parser = commands.add_parser("fetch", help="run the client")
    fetch_parser.add_argument("contender", choices=CONTENDERS)
    fetch_parser.add_argument("--port", type=int, required=True)
    fetch_parser.add_argument("--requests", type=int, required=True)
    fetch_parser.add_argument("--limit", type=int, required=True)
    fetch_parser.add_argument("--timeout", type=float, required=True,
                              help="give up after this many seconds")
    fetch_parser.add_argument("--rss-every", type=int, default=0,
                              metavar="K",
                              help="sample VmRSS every K requests done")
    args = parser.parse_args()
    if args.command == "serve":
        asyncio.run(serve(args.lifetime, args.max_delay, args.seed))
        return
    try:
        result = asyncio.run(fetch(args.contender, args.port, args.requests,
                                   args.limit, args.timeout,
                                   args.rss_every))
    except TimeoutError:
        sys.exit(f"http_load.py: {args.contender} not done after"
                 f" {args.timeout:g} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
