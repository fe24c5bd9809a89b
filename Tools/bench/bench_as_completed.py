"""Benchmark asyncio.as_completed(limit=) against the ways to do without it.

Run this script with the interpreter to measure: one whose
asyncio.as_completed() has the limit parameter, with pyperf, matplotlib,
aiohttp, aiostream and aiometer installed ("tox -e bench" makes such a
virtual environment from build/release/python).  Every child process is
started with the same interpreter.

Each measuring subcommand (time, instructions, memory, latency, http)
stores its section in results.json and prints its table; "report" prints
all the tables and the targets, "plot" draws the PNG files, "all" does
everything.  The ratios are to the shape floor, the cheapest runner of
the shape of as_completed(limit=).  Except "time", whose ratios must
come from one run, a measuring subcommand can rerun some contenders
(--contenders) and keep the stored rows of the others.  With --quick the
runs are small and the results go to build/bench-quick/ instead of
Tools/bench/results/.
"""

import argparse
import asyncio
import datetime
import importlib.metadata
import inspect
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import instructions
from contenders import (BACKPORT, CONTENDERS, PACKAGE_OF, PATCHED_ONLY,
                        PEERS, UNBOUNDED, available)

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parents[1]
FULL_RESULTS_DIR = BENCH_DIR / "results"
QUICK_RESULTS_DIR = REPO_DIR / "build" / "bench-quick"

OURS = ["ours-async-for", "ours-for"]
SHAPE_FLOOR = "shape-floor"
SEMAPHORE = "semaphore-gather"
FAIR_POOL = "fair-pool"
POOLS = ["worker-pool", "worker-pool-tasks", FAIR_POOL]
STDLIB_CONTENDERS = [SHAPE_FLOOR, *OURS, SEMAPHORE, "taskgroup-semaphore",
                     *POOLS, "polling"]
ALL_CONTENDERS = [*STDLIB_CONTENDERS, *PEERS]
# The peers cost 5 to 12 times as much per item as ours and are flat in
# memory: measured up to this N only, to keep the full run within an hour.
PEERS_MAX_N = 10**5
# Today's as_completed() has no limit: not in the latency and HTTP runs.
WITH_UNBOUNDED = [*ALL_CONTENDERS, *UNBOUNDED]
# The shape floor behind the protocol of each of ours' iteration modes:
# counted only.
PROTOCOL_FLOOR_OF = {"ours-async-for": "protocol-floor-async-for",
                     "ours-for": "protocol-floor-for"}
PROTOCOL_FLOORS = list(PROTOCOL_FLOOR_OF.values())
# Counted by callgrind in every run, quick or full: about 20 s each; the
# backport where it is installed.
INSTRUCTION_CONTENDERS = [SHAPE_FLOOR, *PROTOCOL_FLOORS, *OURS,
                          "worker-pool-tasks", FAIR_POOL, *UNBOUNDED,
                          *BACKPORT]

# pyperf settings per number of tasks: (processes, values, warmups); the
# processes of the contenders take turns.
FULL = {
    "time_sizes": {10**4: (6, 3, 1), 10**5: (3, 2, 1), 10**6: (3, 1, 0)},
    "time_contenders": WITH_UNBOUNDED,
    "memory_sizes": [10**3, 10**4, 10**5, 10**6],
    "memory_contenders": WITH_UNBOUNDED,
    # RSS only, for the two that stay flat: about a minute each.
    "memory_large_size": 10**7,
    "memory_large_contenders": ["ours-async-for", SHAPE_FLOOR],
    "latency_limits": [10, 100, 1000],
    "latency_contenders": ALL_CONTENDERS,
    "http_requests": 10**5,
    "http_large_requests": 10**6,
}
QUICK = {
    "time_sizes": {10**4: (3, 2, 1), 10**5: (3, 1, 0)},
    "time_contenders": [*STDLIB_CONTENDERS, *UNBOUNDED],
    "memory_sizes": [10**3, 10**4, 10**5],
    "memory_contenders": [*STDLIB_CONTENDERS, *UNBOUNDED],
    "memory_large_size": None,
    "memory_large_contenders": [],
    "latency_limits": [100],
    "latency_contenders": STDLIB_CONTENDERS,
    "http_requests": 5000,
    "http_large_requests": 5000,
}
TIME_LIMIT = 100
MEMORY_LIMIT = 100
MEAN_DELAY = 0.010  # Latency workload: sleeps uniform in 0..2*MEAN_DELAY.
LATENCY_IDEAL_SECONDS = {"full": 2.0, "quick": 0.5}  # N = L/m * this.
HTTP_LIMIT = 1000
HTTP_CONTENDERS = ["ours-async-for", SEMAPHORE, *POOLS]
# The posts' 1 million requests: RSS sampled every HTTP_LARGE_SAMPLES-th of
# the requests.
HTTP_LARGE_CONTENDERS = ["ours-async-for", SEMAPHORE, FAIR_POOL]
HTTP_LARGE_SAMPLES = 100
HTTP_LARGE_SECONDS = 1800  # Default bound of one client run.
POINT_TIMEOUT = 900  # Seconds for one memory or latency point.
LARGE_POINT_TIMEOUT = 300
HTTP_TIMEOUT = 1200  # Seconds for one HTTP client run.
# A pyperf process gets this many seconds per task run, plus 30:
# 3 times the slowest contender on this machine under load.
ROUND_TIMEOUT_PER_ITEM = 3e-4

# Targets: the headline claims, checked by "report" in a full run, from
# the medians of at least MIN_SAMPLES timings on each side (instruction
# counts need one).  A quick run prints the figures only.
MIN_SAMPLES = 3
SHAPE_FLOOR_TARGET = 1.10
SEMAPHORE_SPEEDUP_TARGET = 2.0
MEMORY_GROWTH_TARGET = 1_000_000  # bytes, from N=10**4 to N=10**6.
LATENCY_EFFICIENCY_TARGET = 0.98


def python_script(name, *args):
    return [sys.executable, str(BENCH_DIR / name), *map(str, args)]


def run_bounded(command, timeout, stdout=None):
    """Run *command*; return (exit code, output), or (None, None) on timeout.

    On timeout the whole process group is killed: pyperf workers and the
    children of peak_rss.py go too.
    """
    with subprocess.Popen(command, stdout=stdout, text=True,
                          start_new_session=True) as child:
        try:
            output, _ = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            print(f"  NO RESULT after {timeout:g} s (hung?): killed")
            return None, None
    return child.returncode, output


def run_json(command, timeout):
    """Run *command*, return the JSON object it prints, or None on error."""
    returncode, output = run_bounded(command, timeout, subprocess.PIPE)
    if returncode:
        print(f"  failed with exit code {returncode}: skipped")
    if returncode != 0:
        return None
    return json.loads(output)


def contenders_to_run(args, names):
    """The installed ones of *names*; only those of --contenders if given."""
    if args.contenders:
        names = [name for name in names if name in args.contenders]
    names_found = available(names)
    for name in names:
        if name not in names_found:
            print(f"{name}: package {PACKAGE_OF[name]} not installed,"
                  f" skipped")
    return names_found


# Results file

def with_stored_rows(args, section, rows):
    """Return *rows*, with --contenders also the others' stored rows.

    A rerun of some contenders keeps the rows of the others, in the order
    of the contenders.
    """
    if not args.contenders:
        return rows
    stored = load_results(args).get(section, {"rows": []})["rows"]
    rows = rows + [row for row in stored
                   if row["contender"] not in args.contenders]
    # The order of a whole run; the shape floor's first place counts.
    order = [SHAPE_FLOOR, *PROTOCOL_FLOORS, *WITH_UNBOUNDED, *BACKPORT]
    return sorted(rows, key=lambda row: order.index(row["contender"]))


def results_path(args):
    return args.results_dir / "results.json"


def load_results(args):
    path = results_path(args)
    if path.exists():
        return json.loads(path.read_text())
    return {}


def load_known_results(args):
    """load_results(), refused if a row is of a contender no longer here."""
    results = load_results(args)
    gone = {row["contender"] for section in results.values()
            if isinstance(section, dict) for row in section.get("rows", [])
            } - set(CONTENDERS)
    if gone:
        sys.exit(f"{results_path(args)}: rows of"
                 f" {', '.join(sorted(gone))}, no longer a contender; rerun"
                 f" their sections without --contenders")
    return results


def store_section(args, section, data):
    results = load_results(args)
    results["machine"] = describe_machine()
    results["mode"] = args.mode
    results[section] = data
    args.results_dir.mkdir(parents=True, exist_ok=True)
    results_path(args).write_text(json.dumps(results, indent=1) + "\n")
    print(f"{section} results stored in {results_path(args)}")


def describe_machine():
    cpu_model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = {}
    for package in ("pyperf", "aiohttp", "aiostream", "aiometer",
                    "matplotlib"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.replace("\n", " "),
        "python_executable": sys.executable,
        "python_cflags": sysconfig.get_config_var("PY_CFLAGS"),
        "python_config_args": sysconfig.get_config_var("CONFIG_ARGS"),
        "packages": versions,
        "date": datetime.datetime.now(datetime.UTC).isoformat(
            timespec="seconds"),
    }


# Tables

def format_table(headers, rows):
    """Return an RST simple table, readable as plain text too."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(header)), *(len(row[i]) for row in cells))
              for i, header in enumerate(headers)]
    rule = "  ".join("=" * width for width in widths)
    lines = [rule,
             "  ".join(f"{h:<{w}}" for h, w in zip(headers, widths)),
             rule]
    for row in cells:
        lines.append("  ".join(f"{c:>{w}}" if i else f"{c:<{w}}"
                               for i, (c, w) in enumerate(zip(row, widths))))
    lines.append(rule)
    return "\n".join(lines)


def label(name):
    return CONTENDERS[name][1]


def by_contender(rows, key):
    """Map contender -> {key value: row}, in the order of the rows."""
    table = {}
    for row in rows:
        table.setdefault(row["contender"], {})[row[key]] = row
    return table


def median(point):
    return statistics.median(point["values_us"])


def spread(point):
    """The median and the range of a time point's samples, as text."""
    values = point["values_us"]
    if len(values) == 1:
        return f"{values[0]:.2f} (1 sample)"
    return f"{median(point):.2f} ({min(values):.2f}-{max(values):.2f})"


def time_table(section):
    table = by_contender(section["rows"], "n")
    sizes = sorted({row["n"] for row in section["rows"]})
    largest = sizes[-1]
    references = [(title, table[name][largest])
                  for name, title in ((SHAPE_FLOOR, "shape floor"),
                                      (OURS[0], "ours"))
                  if largest in table.get(name, {})]
    headers = ["contender", *(f"N={n:.0e} us/item" for n in sizes),
               *(f"x {title} (N={largest:.0e})" for title, _ in references)]
    rows = []
    for name, points in table.items():
        cells = [spread(points[n]) if n in points else "-" for n in sizes]
        for _, reference in references:
            cells.append(f"{median(points[largest]) / median(reference):.2f}"
                         if largest in points else "-")
        rows.append([label(name), *cells])
    samples = sorted({len(row["values_us"]) for row in section["rows"]})
    text = (f"Trivial tasks (await asyncio.sleep(0)), limit"
            f" {section['limit']}: time per item in us, median (min-max)"
            f" of {'/'.join(map(str, samples))} samples; ratios of the"
            f" medians to the shape floor and to ours (async for)\n"
            + format_table(headers, rows))
    for failure in section.get("killed", []):
        text += f"\nKILLED, no result in time (hung?): {failure}"
    return text


def megabytes(value, unit=1):
    return "-" if value is None else f"{value * unit / 1e6:.2f}"


def memory_table(section):
    table = by_contender(section["rows"], "n")
    sizes = sorted({row["n"] for row in section["rows"]})
    headers = ["contender", *(f"N={n:.0e}" for n in sizes)]
    tables = []
    for key, unit, what in (
            ("tracemalloc_peak_bytes", 1, "tracemalloc peak of the run"),
            ("peak_rss_kib", 1024, "peak RSS of a fresh process")):
        rows = [[label(name),
                 *(megabytes(points[n][key], unit) if n in points else "-"
                   for n in sizes)]
                for name, points in table.items()]
        tables.append(f"Peak memory in MB, limit {section['limit']}: {what}\n"
                      + format_table(headers, rows))
    return "\n\n".join(tables)


def latency_table(section):
    headers = ["contender", "limit L", "N", "items/s", "% of L/m",
               "% of L/(measured sleep)", "CPU us/item"]
    rows = []
    for row in section["rows"]:
        rows.append([label(row["contender"]), row["limit"], row["n"],
                     f"{row['items_per_second']:.0f}",
                     f"{100 * row['efficiency']:.1f}",
                     f"{100 * row['efficiency_measured_sleep']:.1f}",
                     f"{row['cpu_us_per_item']:.1f}"])
    return (f"Latency-bound tasks: sleeps uniform in 0..2m,"
            f" m = {section['mean_delay'] * 1e3:g} ms; Little's law bound"
            f" L/m\n" + format_table(headers, rows))


def http_table(section):
    headers = ["contender", "requests", "seconds", "requests/s",
               "peak RSS MB"]
    rows = [[label(row["contender"]),
             (row["requests"] if row.get("finished", True) else
              f"{row['requests']} of {row['requests_asked']} (cut)"),
             f"{row['seconds']:.1f}", f"{row['requests_per_second']:.0f}",
             megabytes(row["peak_rss_kib"], 1024)]
            for row in section["rows"]]
    sampled = ""
    if "rss_every" in section:
        sampled = f"; RSS sampled every {section['rss_every']} requests"
    return (f"HTTP on loopback: aiohttp server answering after 0-30 ms,"
            f" one ClientSession, TCPConnector(limit={section['limit']}),"
            f" limit {section['limit']}{sampled}\n"
            + format_table(headers, rows))


def instructions_table(section, time_section=None):
    """Instructions per item and their ratio to the shape floor's; beside
    them the timed ratio at the largest N of *time_section*, if given."""
    if "missing" in section:
        return f"Instructions per item: not counted: {section['missing']}"
    counts = {row["contender"]: row["instructions_per_item"]
              for row in section["rows"]}
    headers = ["contender", "instructions/item", "x shape floor"]
    timed = {}
    if time_section is not None:
        largest = max(row["n"] for row in time_section["rows"])
        timed = {row["contender"]: median(row)
                 for row in time_section["rows"] if row["n"] == largest}
    if SHAPE_FLOOR in timed:
        headers.append(f"timed x shape floor (N={largest:.0e})")
    rows = []
    for name, per_item in counts.items():
        cells = [label(name), f"{per_item:,}",
                 (f"{per_item / counts[SHAPE_FLOOR]:.2f}"
                  if SHAPE_FLOOR in counts else "-")]
        if SHAPE_FLOOR in timed:
            cells.append(f"{timed[name] / timed[SHAPE_FLOOR]:.2f}"
                         if name in timed else "-")
        rows.append(cells)
    small, large = section["sizes"]
    return (f"Instructions per item (callgrind): the difference between"
            f" {large:,} and {small:,} trivial items over {large - small:,},"
            f" limit {section['limit']}\n" + format_table(headers, rows))


TABLES = {"time": time_table, "instructions": instructions_table,
          "memory": memory_table, "latency": latency_table,
          "http": http_table, "http_large": http_table}


# Measurements

def measure_time(args):
    import pyperf

    settings = args.settings
    names = contenders_to_run(args, settings["time_contenders"])
    rows = []
    failures = []  # Rounds killed for giving no result in time.
    with tempfile.TemporaryDirectory() as tmp:
        for n, (processes, values, warmups) in settings["time_sizes"].items():
            output = Path(tmp) / f"time-{n}.json"
            # One pyperf process per contender and round, the contenders
            # taking turns, so that a disturbance of the machine hits
            # them alike.
            for round_number in range(1, processes + 1):
                print(f"time: N={n}, round {round_number} of {processes}"
                      f" ({values} values each)")
                for name in names:
                    if name in PEERS and n > PEERS_MAX_N:
                        continue
                    returncode, _ = run_bounded(python_script(
                        "time_items.py", "--quiet", "--loops=1",
                        "--processes=1", f"--values={values}",
                        f"--warmups={warmups}", "--append", output,
                        "--n", n, "--limit", TIME_LIMIT,
                        "--contenders", name),
                        timeout=ROUND_TIMEOUT_PER_ITEM * n
                        * (values + warmups) + 30)
                    if returncode is None:
                        failures.append(
                            f"{name}, N={n}, round {round_number}")
                    elif returncode:
                        sys.exit(f"time: pyperf failed with exit code"
                                 f" {returncode}")
            if not output.exists():
                continue
            for bench in pyperf.BenchmarkSuite.load(str(output)):
                values_us = [value * 1e6 for value in bench.get_values()]
                rows.append({
                    "contender": bench.get_name(), "n": n,
                    "mean_us": bench.mean() * 1e6,
                    "stdev_us": (bench.stdev() * 1e6
                                 if len(values_us) > 1 else None),
                    "values_us": values_us,
                })
    section = {"limit": TIME_LIMIT, "rows": rows, "killed": failures}
    store_section(args, "time", section)
    print(time_table(section))


def measure_instructions(args):
    reason = instructions.missing()
    if reason is not None:
        sys.exit(f"instructions: {reason}")
    small, large = instructions.SIZES
    rows = []
    for name in contenders_to_run(args, INSTRUCTION_CONTENDERS):
        print(f"instructions: {name}, N={small} and {large} under"
              f" callgrind")
        rows.append(instructions.count(name))
    section = {"limit": instructions.LIMIT,
               "sizes": list(instructions.SIZES),
               "rows": with_stored_rows(args, "instructions", rows)}
    store_section(args, "instructions", section)
    print(instructions_table(section, load_results(args).get("time")))


def measure_memory(args):
    settings = args.settings
    points = [(name, n, True)
              for name in contenders_to_run(args,
                                            settings["memory_contenders"])
              for n in settings["memory_sizes"]
              if name not in PEERS or n <= PEERS_MAX_N]
    if settings["memory_large_size"]:
        points += [(name, settings["memory_large_size"], False)
                   for name in contenders_to_run(
                       args, settings["memory_large_contenders"])]
    rows = []
    for name, n, with_tracemalloc in points:
        print(f"memory: {name}, N={n}")
        run = python_script("run_once.py", name, "--n", n,
                            "--limit", MEMORY_LIMIT)
        timeout = POINT_TIMEOUT if with_tracemalloc else LARGE_POINT_TIMEOUT
        rss = run_json(python_script("peak_rss.py", "--timeout", timeout,
                                     "--", *run),
                       timeout + 30)
        if rss is None:
            continue
        row = {"contender": name, "n": n,
               "peak_rss_kib": rss["peak_rss_kib"],
               "seconds": rss["seconds"],
               "tracemalloc_peak_bytes": None}
        if with_tracemalloc:
            traced = run_json([*run, "--tracemalloc"], timeout)
            if traced is not None:
                row["tracemalloc_peak_bytes"] = (
                    traced["tracemalloc_peak_bytes"])
        rows.append(row)
    section = {"limit": MEMORY_LIMIT,
               "rows": with_stored_rows(args, "memory", rows)}
    store_section(args, "memory", section)
    print(memory_table(section))


def measure_latency(args):
    settings = args.settings
    ideal_seconds = LATENCY_IDEAL_SECONDS[args.mode]
    rows = []
    for limit in settings["latency_limits"]:
        bound = limit / MEAN_DELAY
        n = round(bound * ideal_seconds)
        for name in contenders_to_run(args, settings["latency_contenders"]):
            print(f"latency: {name}, L={limit}, N={n}")
            result = run_json(python_script(
                "run_once.py", name, "--n", n, "--limit", limit,
                "--workload", "latency", "--mean-delay", MEAN_DELAY),
                POINT_TIMEOUT)
            if result is None:
                continue
            items_per_second = n / result["seconds"]
            measured_bound = limit / result["mean_sleep_seconds"]
            rows.append({
                "contender": name, "limit": limit, "n": n,
                "seconds": result["seconds"],
                "items_per_second": items_per_second,
                "bound": bound,
                "efficiency": items_per_second / bound,
                "mean_sleep_seconds": result["mean_sleep_seconds"],
                "efficiency_measured_sleep": (
                    items_per_second / measured_bound),
                "cpu_us_per_item": result["cpu_seconds"] / n * 1e6,
            })
    section = {"mean_delay": MEAN_DELAY,
               "rows": with_stored_rows(args, "latency", rows)}
    store_section(args, "latency", section)
    print(latency_table(section))


def start_server(lifetime):
    server = subprocess.Popen(
        python_script("http_load.py", "serve", "--lifetime", lifetime),
        stdout=subprocess.PIPE, text=True)
    port = server.stdout.readline().strip()
    if not port.isdigit():
        server.kill()
        server.wait()
        sys.exit("http: the server did not start")
    return server, int(port)


def run_http_clients(names, requests, timeout, rss_every=0):
    """Run the HTTP client of each contender in turn against one server."""
    server, port = start_server(lifetime=(2 * timeout + 90) * len(names))
    rows = []
    try:
        for name in names:
            print(f"http: {name}, {requests} requests, limit {HTTP_LIMIT},"
                  f" server on 127.0.0.1:{port}")
            fetch = python_script(
                "http_load.py", "fetch", name, "--port", port,
                "--requests", requests, "--limit", HTTP_LIMIT,
                "--timeout", timeout, "--rss-every", rss_every)
            # A client with 10**6 tasks waiting can be late to its own
            # deadline by whole event loop iterations: give it half more.
            grace = 30 + timeout / 2
            result = run_json(python_script(
                "peak_rss.py", "--timeout", timeout + grace, "--", *fetch),
                timeout + grace + 30)
            if result is not None:
                rows.append(result)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return rows


def measure_http(args):
    requests = args.requests or args.settings["http_requests"]
    rows = run_http_clients(contenders_to_run(args, HTTP_CONTENDERS),
                            requests, HTTP_TIMEOUT)
    section = {"limit": HTTP_LIMIT,
               "rows": with_stored_rows(args, "http", rows)}
    store_section(args, "http", section)
    print(http_table(section))


def measure_http_large(args):
    requests = args.requests or args.settings["http_large_requests"]
    rss_every = max(1, requests // HTTP_LARGE_SAMPLES)
    rows = run_http_clients(contenders_to_run(args, HTTP_LARGE_CONTENDERS),
                            requests, args.seconds, rss_every)
    section = {"limit": HTTP_LIMIT, "rss_every": rss_every,
               "rows": with_stored_rows(args, "http_large", rows)}
    store_section(args, "http_large", section)
    print(http_table(section))


# Report and plots

def ratio_lines(time_section):
    """Ours against the shape floor and Semaphore + gather, per N, from
    medians."""
    table = by_contender(time_section["rows"], "n")
    lines = []
    for n in sorted({row["n"] for row in time_section["rows"]}):
        floor = table.get(SHAPE_FLOOR, {}).get(n)
        semaphore = table.get(SEMAPHORE, {}).get(n)
        for name in OURS:
            ours = table.get(name, {}).get(n)
            if ours is None:
                continue
            if floor is not None:
                ratio = median(ours) / median(floor)
                lines.append((
                    ratio <= SHAPE_FLOOR_TARGET, (ours, floor),
                    f"{label(name)}, N={n:.0e}: {ratio:.2f}x the shape"
                    f" floor (target <= {SHAPE_FLOOR_TARGET:.2f}x)"))
            if semaphore is not None:
                speedup = median(semaphore) / median(ours)
                lines.append((
                    speedup >= SEMAPHORE_SPEEDUP_TARGET, (ours, semaphore),
                    f"{label(name)}, N={n:.0e}: {speedup:.2f}x faster than"
                    f" Semaphore + gather (target >= "
                    f"{SEMAPHORE_SPEEDUP_TARGET}x)"))
    return lines


def instruction_lines(instructions_section):
    """Ours against the shape floor in instructions per item, and beside
    it against the protocol floor of the same iteration mode."""
    counts = {row["contender"]: row["instructions_per_item"]
              for row in instructions_section.get("rows", [])}
    lines = []
    for name in OURS:
        if name not in counts or SHAPE_FLOOR not in counts:
            continue
        ratio = counts[name] / counts[SHAPE_FLOOR]
        text = (f"{label(name)}: {ratio:.2f}x the shape floor in"
                f" instructions per item"
                f" (target <= {SHAPE_FLOOR_TARGET:.2f}x)")
        protocol_floor = PROTOCOL_FLOOR_OF[name]
        if protocol_floor in counts:
            text += (f"; {counts[name] / counts[protocol_floor]:.2f}x the"
                     f" {label(protocol_floor)}")
        lines.append((ratio <= SHAPE_FLOOR_TARGET, (), text))
    return lines


def memory_lines(memory_section):
    table = by_contender(memory_section["rows"], "n")
    lines = []
    for name in OURS:
        points = table.get(name, {})
        if 10**4 not in points or 10**6 not in points:
            continue
        for key, unit, what in (("tracemalloc_peak_bytes", 1, "tracemalloc"),
                                ("peak_rss_kib", 1024, "peak RSS")):
            small, large = points[10**4][key], points[10**6][key]
            if small is None or large is None:
                continue
            growth = (large - small) * unit
            lines.append((
                growth < MEMORY_GROWTH_TARGET, (),
                f"{label(name)}: {what} grows by {growth / 1e6:+.3f} MB"
                f" from N=1e4 to N=1e6 (target < 1 MB)"))
    return lines


def latency_lines(latency_section):
    lines = []
    for row in latency_section["rows"]:
        if row["contender"] in OURS:
            lines.append((
                row["efficiency"] >= LATENCY_EFFICIENCY_TARGET, (),
                f"{label(row['contender'])}, L={row['limit']}:"
                f" {100 * row['efficiency']:.1f}% of L/m"
                f" ({100 * row['efficiency_measured_sleep']:.1f}% of L over"
                f" the measured mean sleep) (target >= 98% of L/m)"))
    return lines


def verdict(met, time_points, text):
    """Return *text* with met or MISSED, or with the reason for neither.

    *time_points* are the timings compared: each needs MIN_SAMPLES.
    """
    samples = min((len(point["values_us"]) for point in time_points),
                  default=MIN_SAMPLES)
    if samples < MIN_SAMPLES:
        return f"{samples} sample{'s' * (samples > 1)}, no verdict: {text}"
    return f"{'met   ' if met else 'MISSED'}  {text}"


def report(args):
    results = load_known_results(args)
    if not results:
        sys.exit(f"no results in {results_path(args)}: run a measuring"
                 f" subcommand first")
    machine = results["machine"]
    print(f"Machine: {machine['cpu_count']} x {machine['cpu_model']},"
          f" {machine['platform']}")
    print(f"Python: {machine['python']} ({machine['python_executable']})")
    print(f"Mode: {results['mode']}; results: {results_path(args)}")
    for section, make_table in TABLES.items():
        if section == "instructions" and section in results:
            print()
            print(make_table(results[section], results.get("time")))
        elif section in results:
            print()
            print(make_table(results[section]))
    lines = []
    if "time" in results:
        lines += ratio_lines(results["time"])
    if "instructions" in results:
        lines += instruction_lines(results["instructions"])
    if "memory" in results:
        lines += memory_lines(results["memory"])
    if "latency" in results:
        lines += latency_lines(results["latency"])
    if lines and results["mode"] == "quick":
        print("\nTargets: the figures only; a quick run has too few"
              " samples for verdicts")
        print("\n".join(text for _, _, text in lines))
    elif lines:
        print("\nTargets")
        print("\n".join(verdict(*line) for line in lines))


def plot(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = load_known_results(args)
    if "time" in results:
        figure, axes = plt.subplots(figsize=(8, 5))
        for name, points in by_contender(results["time"]["rows"],
                                         "n").items():
            sizes = sorted(points)
            axes.plot(sizes, [median(points[n]) for n in sizes],
                      marker="o", label=label(name), **line_style(name))
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("number of tasks N")
        axes.set_ylabel("microseconds per task, median (log)")
        axes.set_title(f"Trivial tasks, limit {results['time']['limit']}:"
                       f" time per task (lower is better)")
        finish(figure, axes, args.results_dir / "time_per_item.png")
    if "memory" in results:
        figure, (traced_axes, rss_axes) = plt.subplots(
            1, 2, figsize=(12, 5))
        for name, points in by_contender(results["memory"]["rows"],
                                         "n").items():
            sizes = [n for n in sorted(points)
                     if points[n]["tracemalloc_peak_bytes"] is not None]
            traced_axes.plot(
                sizes, [points[n]["tracemalloc_peak_bytes"] / 1e6
                        for n in sizes],
                marker="o", label=label(name), **line_style(name))
            sizes = sorted(points)
            rss_axes.plot(sizes, [points[n]["peak_rss_kib"] * 1024 / 1e6
                                  for n in sizes],
                          marker="o", label=label(name), **line_style(name))
        limit = results["memory"]["limit"]
        for axes, title in ((traced_axes, "tracemalloc peak"),
                            (rss_axes, "peak RSS of a fresh process")):
            axes.set_xscale("log")
            axes.set_yscale("log")
            axes.set_xlabel("number of tasks N")
            axes.set_ylabel("MB (log)")
            axes.set_title(f"{title}, limit {limit}")
        finish(figure, rss_axes, args.results_dir / "memory.png")
    if "latency" in results:
        figure, axes = plt.subplots(figsize=(9, 5))
        rows = results["latency"]["rows"]
        limits = sorted({row["limit"] for row in rows})
        table = by_contender(rows, "limit")
        width = 0.8 / len(table)
        for index, (name, points) in enumerate(table.items()):
            positions = [i + index * width for i, limit in enumerate(limits)
                         if limit in points]
            bars = axes.bar(positions, [100 * points[limit]["efficiency"]
                                        for limit in limits
                                        if limit in points],
                            width, label=label(name),
                            color=line_style(name)["color"])
            axes.bar_label(bars, fmt="%.0f", fontsize="x-small")
        axes.axhline(100 * LATENCY_EFFICIENCY_TARGET, color="black",
                     linestyle=":", linewidth=1)
        axes.set_xticks([i + 0.4 - width / 2 for i in range(len(limits))],
                        [f"L = {limit}" for limit in limits])
        axes.set_ylabel("throughput, % of L/m")
        axes.set_title(f"Latency-bound tasks (m ="
                       f" {results['latency']['mean_delay'] * 1e3:g} ms):"
                       f" throughput against Little's law bound")
        finish(figure, axes, args.results_dir / "latency.png")
    if "http_large" in results:
        figure, axes = plt.subplots(figsize=(8, 5))
        for row in results["http_large"]["rows"]:
            done, rss = zip(*row["rss_samples_kib"])
            axes.plot(done, [kib * 1024 / 1e6 for kib in rss],
                      label=label(row["contender"]),
                      **line_style(row["contender"]))
        axes.set_yscale("log")
        axes.set_xlabel("requests done")
        axes.set_ylabel("resident set size, MB (log)")
        first = results["http_large"]["rows"][0]
        axes.set_title(f"{first.get('requests_asked', first['requests']):,}"
                       f" HTTP requests on loopback, limit"
                       f" {results['http_large']['limit']}: client memory")
        finish(figure, axes, args.results_dir / "http_rss.png")


COLORS = {
    "ours-async-for": "tab:blue", "ours-for": "tab:cyan",
    "semaphore-gather": "tab:red", "taskgroup-semaphore": "tab:orange",
    "polling": "tab:purple", "shape-floor": "black",
    "aiostream": "tab:green", "aiometer": "tab:olive", "unbounded": "tab:gray",
    "worker-pool": "tab:pink", "worker-pool-tasks": "tab:brown",
    "fair-pool": "darkgreen",
}


def line_style(name):
    return {"color": COLORS[name],
            "linestyle": "--" if name == SHAPE_FLOOR else "-"}


def finish(figure, legend_axes, path):
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    for axes in figure.axes:
        axes.grid(True, which="major", alpha=0.3)
        if axes.get_yscale() == "log":
            # Plain numbers; minor ticks labelled only within a decade.
            low, high = axes.get_ylim()
            axes.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            axes.yaxis.set_minor_formatter(
                FormatStrFormatter("%g") if high / low < 10
                else NullFormatter())
    legend_axes.legend(fontsize="small", loc="upper left",
                       bbox_to_anchor=(1.01, 1))
    figure.tight_layout()
    figure.savefig(path, dpi=100, bbox_inches="tight")
    print(f"wrote {path}")


def run_all(args):
    # The instruction counts are taken after the time run, to print the
    # timed ratios beside them.  Without valgrind the rest is still
    # measured, and the note replaces any counts stored before.
    measure_time(args)
    reason = instructions.missing()
    if reason is None:
        measure_instructions(args)
    else:
        print(f"NOTE: no instruction counts: {reason}")
        store_section(args, "instructions", {"missing": reason})
    for measure in (measure_memory, measure_latency, measure_http,
                    measure_http_large):
        measure(args)
    plot(args)
    print()
    report(args)


def check_interpreter(args):
    """Ours need the patched build; the others (the backport's counts on
    3.11 and 3.15) run on any CPython 3.11+ if named with --contenders."""
    if ("limit" not in inspect.signature(asyncio.as_completed).parameters
            and not (args.contenders
                     and set(args.contenders).isdisjoint(PATCHED_ONLY))):
        sys.exit(f"{sys.executable}: asyncio.as_completed() has no limit"
                 f" parameter; run this script with the patched build, or"
                 f" name --contenders other than {', '.join(PATCHED_ONLY)}")


def contender_names(text):
    names = text.split(",")
    unknown = [name for name in names if name not in CONTENDERS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown: {', '.join(unknown)}; the contenders are"
            f" {', '.join(CONTENDERS)}")
    return names


def main():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--quick", action="store_true",
                        help="small runs, about a minute in all; results"
                             f" in {QUICK_RESULTS_DIR}")
    common.add_argument("--results-dir", type=Path,
                        help="where results.json and the plots go")
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.
                                     RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, function, help_text in (
            ("time", measure_time, "time per item of trivial tasks (pyperf)"),
            ("instructions", measure_instructions,
             "instructions per item of trivial tasks (callgrind)"),
            ("memory", measure_memory, "peak memory against N"),
            ("latency", measure_latency,
             "throughput of latency-bound tasks against L/m"),
            ("http", measure_http, "requests/s and peak RSS over HTTP"),
            ("http-large", measure_http_large,
             "the posts' 1 million requests: peak RSS and RSS against"
             " requests done, for ours, Semaphore + gather, the fair pool"),
            ("report", report, "print the tables and the targets"),
            ("plot", plot, "draw the PNG plots"),
            ("all", run_all, "measure everything, plot and report")):
        command = commands.add_parser(name, parents=[common], help=help_text)
        command.set_defaults(function=function, requests=None,
                             seconds=HTTP_LARGE_SECONDS, contenders=None)
        if name == "http-large":
            command.add_argument(
                "--seconds", type=float, default=HTTP_LARGE_SECONDS,
                help="bound of each client run: at this time it stops and"
                     " reports the requests done (default: %(default)s)")
        if name in ("instructions", "memory", "latency", "http",
                    "http-large"):
            command.add_argument(
                "--contenders", type=contender_names,
                help="comma-separated: rerun only these, keeping the stored"
                     " rows of the others")
        if name in ("http", "http-large"):
            key = f"{name.replace('-', '_')}_requests"
            command.add_argument("--requests", type=int,
                                 help="number of HTTP requests (default:"
                                      f" {FULL[key]}, {QUICK[key]} with"
                                      " --quick)")
    args = parser.parse_args()
    args.mode = "quick" if args.quick else "full"
    args.settings = QUICK if args.quick else FULL
    if args.results_dir is None:
        args.results_dir = (QUICK_RESULTS_DIR if args.quick
                            else FULL_RESULTS_DIR)
    check_interpreter(args)
    if args.contenders:
        load_known_results(args)  # Before measuring: the rows kept.
    args.function(args)


if __name__ == "__main__":
    main()
