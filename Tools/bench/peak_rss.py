"""Run a command and print its peak resident set size, as one JSON line.

The command must print one JSON object on its standard output.  The
peak RSS is resource.getrusage(RUSAGE_CHILDREN).ru_maxrss, which is the
largest of all the children waited for, so this process runs exactly
one child: bench_as_completed.py starts one such process per point.
"""

import argparse
import json
import resource
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, required=True,
                        help="kill the command after this many seconds")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="the command, after --")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    try:
        child = subprocess.run(command, stdout=subprocess.PIPE, text=True,
                               timeout=args.timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"peak_rss.py: killed after {args.timeout:g} s: {command}")
    if child.returncode:
        sys.exit(f"peak_rss.py: exit code {child.returncode}: {command}")
    result = json.loads(child.stdout)
    result["peak_rss_kib"] = (
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
