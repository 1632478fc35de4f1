"""Two poll rounds of Python's `reader` library over the feeds listed in URLS (one per line):
wall time and CPU time (user + system) of each, 16 workers.

Usage: python reader_round.py URLS DB
"""
import resource
import sys
import time

from reader import make_reader


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    urls = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    reader = make_reader(sys.argv[2])
    for url in urls:
        reader.add_feed(url, exist_ok=True)
    for round_ in (1, 2):
        wall, used = time.perf_counter(), cpu()
        reader.update_feeds(workers=16, scheduled=False)
        wall, used = time.perf_counter() - wall, cpu() - used
        entries = reader.get_entry_counts().total
        print(f"reader round {round_}: {wall:.2f} s wall, {used:.2f} s CPU, {entries} entries")


if __name__ == "__main__":
    main()
