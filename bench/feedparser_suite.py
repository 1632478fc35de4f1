"""tributary's reading of feedparser's own sample suite, entry by entry, against feedparser's.

    python3 bench/feedparser_suite.py [--tributary BIN] [--check]

Fetches the feedparser 6.0.12 source distribution from PyPI (its `tests/` folder holds the
samples) and feedparser itself into a virtualenv under target/feedparser-suite, then reads each
sample under wellformed/, encoding/, entities/ and illformed/ with both, each given the
Content-Type the sample's `Header:` lines name (else `application/xml`, as feedparser's own
harness serves it) and the address that harness serves it from (the base of relative links). Over the documents in which feedparser finds entries it
reports how often the entry counts agree, and, where feedparser has a value, the titles
(compared as text: feedparser's tags dropped and entities decoded, whitespace collapsed), the links (byte for
byte, but for a space, which tributary writes as %20) and the dates (to the second). The sanitize samples are checked apart: nothing tributary
keeps of them may hold a script, a style, an event handler or a `javascript:` URL.

With --check (tests/feedparser_suite.rs runs it so), exits 1 when a figure falls below FLOORS,
the targets: 98 % agreement on each of counts, titles, links and dates, every sanitize sample
clean, and no document refused in which feedparser finds entries.
"""

import argparse
import calendar
import html
import json
import os
import re
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "target/feedparser-suite")
VERSION = "6.0.12"
FOLDERS = ("wellformed", "encoding", "entities", "illformed")
# Where feedparser's harness serves the samples from: the base of their relative links.
SERVED_FROM = "http://127.0.0.1:8097/"
# The least each figure may be, in percent, and the most documents refused.
FLOORS = {"counts": 98.0, "titles": 98.0, "links": 98.0, "dates": 98.0, "sanitized": 100.0}
MOST_REFUSED = 0
# The exit status when PyPI cannot be reached, told apart from falling below the floors.
UNREACHABLE = 3
UNSAFE = re.compile(r"<script|<style|\son\w+\s*=|javascript:|<iframe|<object|<embed", re.I)
HEADER = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.M)


def setup():
    """The samples' folder and the virtualenv's Python, made once."""
    os.makedirs(WORK, exist_ok=True)
    python = os.path.join(WORK, "venv/bin/python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", os.path.join(WORK, "venv")], check=True)
        subprocess.run(
            [python, "-m", "pip", "install", "-q", f"feedparser=={VERSION}", "chardet"], check=True
        )
    tests = os.path.join(WORK, f"feedparser-{VERSION}", "tests")
    if not os.path.isdir(tests):
        pip = [python, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        subprocess.run(pip + ["-d", WORK, f"feedparser=={VERSION}"], check=True)
        with tarfile.open(os.path.join(WORK, f"feedparser-{VERSION}.tar.gz")) as tar:
            tar.extractall(WORK, filter="data")
    return tests, python


# Run inside the virtualenv: feedparser's entries of every sample, as JSON.
READ_WITH_FEEDPARSER = r"""
import calendar, json, sys, feedparser
out = {}
for path, content_type, base in json.load(sys.stdin):
    headers = {"content-location": base}
    if content_type:
        headers["content-type"] = content_type
    with open(path, "rb") as f:
        d = feedparser.parse(f.read(), response_headers=headers)
    def when(e):
        t = e.get("published_parsed") or e.get("updated_parsed")
        return calendar.timegm(t) if t else None
    out[path] = [
        {"title": e.get("title"), "link": e.get("link"), "date": when(e)} for e in d.entries
    ]
json.dump(out, sys.stdout)
"""


def samples(tests):
    """(path, content type, base URL) of each sample."""
    found = []
    for folder in FOLDERS:
        for directory, _, files in os.walk(os.path.join(tests, folder)):
            for name in sorted(files):
                path = os.path.join(directory, name)
                with open(path, "rb") as f:
                    head = f.read(4096)
                headers = {k.strip().lower(): v.strip() for k, v in HEADER.findall(head)}
                # What feedparser's own harness serves a sample as when it names no type.
                content_type = headers.get(b"content-type", b"application/xml").decode("latin-1")
                relative = os.path.relpath(path, os.path.dirname(tests))
                found.append((path, content_type, SERVED_FROM + relative))
    return sorted(found)


def tributary_entries(binary, path, content_type, base):
    """tributary's items of one sample, or None when it refuses the document."""
    command = [binary, "parse", path, "--base-url", base]
    if content_type:
        command += ["--content-type", content_type]
    run = subprocess.run(command, capture_output=True, timeout=60)
    if run.returncode != 0:
        return None
    return [json.loads(line) for line in run.stdout.decode("utf-8").splitlines() if line]


def as_text(value):
    text = re.sub(r"<[^>]*>", "", value or "")
    return " ".join(html.unescape(text).split())


def title(theirs, ours):
    """tributary's title, made feedparser's own when the two read alike: feedparser gives some
    titles as HTML and some as text, tributary's are text ("<blink>" there is a word)."""
    ours = " ".join((ours or "").split())
    as_is = " ".join(html.unescape(theirs or "").split())
    return as_text(theirs) if ours == as_is else ours


def space_encoded(link):
    return link.replace(" ", "%20") if link else link


def epoch(rfc3339):
    if not rfc3339:
        return None
    return calendar.timegm(
        __import__("datetime").datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).utctimetuple()
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tributary", default=os.path.join(ROOT, "target/release/tributary"))
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--mismatches", default=os.path.join(WORK, "mismatches.txt"))
    args = parser.parse_args()
    try:
        tests, python = setup()
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"cannot fetch feedparser {VERSION} from PyPI: {e}")
        sys.exit(UNREACHABLE)
    every = samples(tests)
    read = subprocess.run(
        [python, "-c", READ_WITH_FEEDPARSER],
        input=json.dumps(every).encode(),
        capture_output=True,
        check=True,
    )
    reference = json.loads(read.stdout)

    agree = {k: [0, 0] for k in ("counts", "titles", "links", "dates", "sanitized")}
    refused, mismatches = [], []
    for path, content_type, base in every:
        ours = tributary_entries(args.tributary, path, content_type, base)
        name = os.path.relpath(path, tests)
        if "/sanitize/" in path:
            if ours:
                kept = " ".join(
                    str(i.get(k) or "") for i in ours for k in ("title", "summary", "content")
                )
                agree["sanitized"][1] += 1
                agree["sanitized"][0] += not UNSAFE.search(kept)
                if UNSAFE.search(kept):
                    mismatches.append(f"{name}: unsafe: {kept[:200]!r}")
            continue
        theirs = reference[path]
        if not theirs:
            continue
        if ours is None:
            refused.append(name)
            ours = []
        agree["counts"][1] += 1
        agree["counts"][0] += len(ours) == len(theirs)
        if len(ours) != len(theirs):
            mismatches.append(f"{name}: {len(ours)} entries, feedparser {len(theirs)}")
        for i, entry in enumerate(theirs):
            mine = ours[i] if i < len(ours) else {}
            checks = {
                "titles": (as_text(entry["title"]), title(entry["title"], mine.get("title"))),
                # A space is not a URL's: "a b" and "a%20b" are one link, the second valid.
                "links": (space_encoded(entry["link"]), mine.get("url")),
                "dates": (entry["date"], epoch(mine.get("published"))),
            }
            for key, (expected, got) in checks.items():
                if expected in (None, ""):
                    continue
                agree[key][1] += 1
                agree[key][0] += expected == got
                if expected != got:
                    mismatches.append(f"{name}[{i}] {key}: {got!r}, feedparser {expected!r}")

    with open(args.mismatches, "w") as f:
        f.write("\n".join(mismatches + [f"refused: {r}" for r in refused]) + "\n")
    print(f"feedparser {VERSION}'s samples: {sum(1 for _ in every)} read by both")
    failed = []
    for key, (good, total) in agree.items():
        share = 100.0 * good / total if total else 100.0
        print(f"  {key:<10} {good:>5} of {total:<5} {share:6.1f} %")
        if share < FLOORS[key]:
            failed.append(f"{key} {share:.1f} % < {FLOORS[key]} %")
    print(f"  refused    {len(refused):>5} documents in which feedparser finds entries")
    if len(refused) > MOST_REFUSED:
        failed.append(f"{len(refused)} refused > {MOST_REFUSED}")
    print(f"  each disagreement: {args.mismatches}")
    if args.check and failed:
        print("below the floors: " + "; ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
