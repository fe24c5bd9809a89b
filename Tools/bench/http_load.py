"""The HTTP scenario of the "100 million requests" posts, on loopback.

"serve" answers GET /<anything> after a random 0-30 ms delay, on
127.0.0.1 and a free port that it prints, and stops by itself after
--lifetime seconds.  "fetch" makes --requests requests through one
aiohttp ClientSession, at most --limit at once with one contender, and
prints one JSON line.
"""

import argparse
import asyncio
import functools
import json
import random
import socket
import sys
import time

from aiohttp import ClientSession, TCPConnector, web

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


async def fetch(contender, port, requests, limit, timeout):
    run = CONTENDERS[contender][0]
    url_format = f"http://127.0.0.1:{port}/{{}}"
    async with ClientSession(connector=TCPConnector(limit=limit)) as session:
        work = functools.partial(fetch_one, session, url_format)
        start = time.perf_counter()
        async with asyncio.timeout(timeout):
            completed = await run(work, requests, limit)
        seconds = time.perf_counter() - start
    return {"contender": contender, "requests": completed,
            "limit": limit, "seconds": seconds,
            "requests_per_second": completed / seconds}


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
    args = parser.parse_args()
    if args.command == "serve":
        asyncio.run(serve(args.lifetime, args.max_delay, args.seed))
        return
    try:
        result = asyncio.run(fetch(args.contender, args.port, args.requests,
                                   args.limit, args.timeout))
    except TimeoutError:
        sys.exit(f"http_load.py: {args.contender} not done after"
                 f" {args.timeout:g} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
