"""Parse throughput of Python's feedparser and fastfeedparser on the same bytes as
benches/parse.rs (the ABC "Just In" capture): MB/s, best of several timed runs.

Usage: python parse_peers.py FILE
"""
import sys
import time


def best_rate(parse, data, seconds=3.0):
    """MB/s of the fastest of repeated runs within `seconds` (at least 5 runs)."""
    best = float("inf")
    runs = 0
    started = time.perf_counter()
    while runs < 5 or time.perf_counter() - started < seconds:
        t = time.perf_counter()
        items = parse(data)
        best = min(best, time.perf_counter() - t)
        runs += 1
    return len(data) / best / 1e6, items


def main():
    data = open(sys.argv[1], "rb").read()
    import feedparser
    import fastfeedparser

    rate, items = best_rate(lambda d: len(feedparser.parse(d).entries), data)
    print(f"feedparser {feedparser.__version__}: {rate:.2f} MB/s ({items} items)")
    rate, items = best_rate(lambda d: len(fastfeedparser.parse(d).entries), data)
    version = getattr(fastfeedparser, "__version__", "?")
    print(f"fastfeedparser {version}: {rate:.2f} MB/s ({items} items)")


if __name__ == "__main__":
    main()
