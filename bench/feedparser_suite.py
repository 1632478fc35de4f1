"""tributary's reading of feed documents, entry by entry, against feedparser's.

    python3 bench/feedparser_suite.py [--corpus samples|real] [--tributary BIN] [--check] [--table]

Fetches the feedparser 6.0.12 source distribution from PyPI (its `tests/` folder holds the
samples) and feedparser itself into a virtualenv under target/feedparser-suite, then reads each
document of the corpus with both. Two corpora:

- `samples` (the default): each sample under wellformed/, encoding/, entities/ and illformed/,
  each given the Content-Type the sample's `Header:` lines name (else `application/xml`, as
  feedparser's own harness serves it) and the address that harness serves it from (the base of
  relative links). The sanitize samples are checked apart: nothing tributary keeps of them may
  hold a script, a style, an event handler or a `javascript:` URL.
- `real`: the feeds of ../shared/fixtures, whole documents with many entries each: every feed
  under real/ (captures of real sites), every document under corpus/ (from mature parsers' test
  suites) but the OPML subscription lists, and the outlets' captures under outlets/. A `.gz` file is given to
  both decompressed, as it reaches each when served with `Content-Encoding: gzip` (feedparser's
  HTTP client and tributary's both undo the coding; neither's parser is given it). Each is
  served as `application/feed+json` (`.json`) or `application/xml` from SERVED_FROM and its
  path below the fixtures. feedparser 6.0.12 reads no JSON Feed, so those documents, having no
  entries for it, are not compared. tests/fixtures/real in this repository adds more captures
  of real sites (its SOURCES.md says where each comes from), named and served by their path
  below the repository.

An entry of feedparser's that holds nothing is not counted, in either corpus: no title, link,
id, date, summary or content, nor any other value (an author, a category, an enclosure…).
feedparser opens an entry at every item element, so it makes one of each empty `<item/>` nested
in another item (real/nodefp__illegally-nested.xml) and of an item cut off before its first
field (corpus/feedparser/illformed-incomplete-cdata.xml). Such an entry is nothing a reader can
show or tell apart; counting it would ask tributary to invent an item, and, entries being paired
by position, it would shift every pairing after it. An entry that holds only an author, a
category or an enclosure still counts: the samples test such items one field at a time, and a
reader is to keep them (dropping those too would take 215 samples out of the counts).

Over the documents in which feedparser finds entries it reports how often the entry counts
agree, and, where feedparser has a value, the titles (compared as text: feedparser's tags
dropped and entities decoded, whitespace collapsed), the links (byte for byte, but for a space,
which tributary writes as %20) and the dates (to the second). With --table it also prints a
Markdown table of every document that disagrees, with its first disagreement.

With --check (tests/feedparser_suite.rs runs it so), exits 1 when a figure falls below the
corpus's floors: for the samples, 98 % agreement on each of counts, titles, links and dates and
every sanitize sample clean; for the real documents, 98 % on counts and 99 % on titles, links
and dates; for both, no document refused in which feedparser finds entries.
"""

import argparse
import calendar
import collections
import gzip
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
# The shared fixtures, beside the repository; the real documents are in these folders of it.
FIXTURES = os.path.join(os.path.dirname(ROOT), "shared/fixtures")
REAL_FOLDERS = ("real", "corpus", "outlets")
# This repository's own captures of real sites, read beside the shared ones.
LOCAL_REAL = "tests/fixtures/real"
# Where feedparser's harness serves the samples from: the base of their relative links.
SERVED_FROM = "http://127.0.0.1:8097/"
# The least each figure may be, in percent, per corpus, and the most documents refused.
FLOORS = {
    "samples": {"counts": 98.0, "titles": 98.0, "links": 98.0, "dates": 98.0, "sanitized": 100.0},
    "real": {"counts": 98.0, "titles": 99.0, "links": 99.0, "dates": 99.0},
}
MOST_REFUSED = 0
# The exit status when PyPI cannot be reached, told apart from falling below the floors.
UNREACHABLE = 3
UNSAFE = re.compile(r"<script|<style|\son\w+\s*=|javascript:|<iframe|<object|<embed", re.I)
HEADER = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.M)
# Values feedparser misreads, by document and measure, each with the evidence: they are listed
# apart and left out of the agreement, for tributary reads them as the document says. Every
# other disagreement counts against tributary, its deliberate ones included (BENCHMARKS.md,
# section 1, explains each).
FEEDPARSER_MISREADS = {
    ("corpus/rsparser/kc0011-gb2312.rss", "dates"): "'2020/1/10 14:33:00' is read as"
    " 2020-12-01 00:00:00: feedparser takes the year and loses the month, day and time",
    ("corpus/feed-rs/rss_2.0_nbcny.xml", "dates"): "'Sat, Dec 16 2023 02:02:33 PM' is read as"
    " 02:02:33: feedparser drops the PM",
}
# An OPML subscription list is no feed: neither reader is meant to find entries in it.
OPML = re.compile(rb"<opml[\s>]")

# One document to read: its name in reports, the file both read, and how it is served.
Document = collections.namedtuple("Document", "name path content_type base")
# What one document's readings disagree on: the entry counts (tributary's None when it refuses
# the document), how many values disagree per measure, and the first (measure, entry index,
# feedparser's value, tributary's).
Disagreement = collections.namedtuple("Disagreement", "name theirs ours measures first")


def setup():
    """Returns the samples' folder and the virtualenv's Python, making them on the first run."""
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
    def empty(e):
        # Nothing read for it at all: see the module's doc.
        return not any(e.values())
    out[path] = [
        {"title": e.get("title"), "link": e.get("link"), "date": when(e), "empty": empty(e)}
        for e in d.entries
    ]
json.dump(out, sys.stdout)
"""


def samples(tests):
    """Returns (path, content type, base URL) of each sample."""
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


def real_documents():
    """Lists the real documents, the shared fixtures' and this repository's, decompressing each
    `.gz` one into WORK for both readers."""
    found = []
    for folder in REAL_FOLDERS:
        found += documents_under(FIXTURES, folder)
    found += documents_under(ROOT, LOCAL_REAL)
    return sorted(found)


def documents_under(top, folder):
    """Returns the documents under `folder` of `top`, each named by its path below `top`."""
    found = []
    for directory, _, files in os.walk(os.path.join(top, folder)):
        for file in sorted(files):
            # The folders' own notes (README.md, SOURCES.md, SOURCES.tsv) are not documents.
            if file.endswith((".md", ".tsv")):
                continue
            path = os.path.join(directory, file)
            name = os.path.relpath(path, top)
            with open(path, "rb") as f:
                body = f.read()
            if file.endswith(".gz"):
                body = gzip.decompress(body)
                path = os.path.join(WORK, "decompressed", name[: -len(".gz")])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(body)
            if OPML.search(body[:1024]):
                continue
            json_feed = path.endswith(".json")
            content_type = "application/feed+json" if json_feed else "application/xml"
            found.append(Document(name, path, content_type, SERVED_FROM + name))
    return found


def tributary_entries(binary, path, content_type, base):
    """Returns tributary's items of one document, or None when it refuses the document."""
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
    """Returns tributary's title, made feedparser's own when the two read alike: feedparser gives
    some titles as HTML and some as text, tributary's are text ("<blink>" there is a word)."""
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


def entry_checks(theirs, ours):
    """Yields (measure, entry index, feedparser's value, tributary's) for each value feedparser
    has, pairing the entries by position: an entry dropped or folded shows in the ones after it."""
    for i, entry in enumerate(theirs):
        mine = ours[i] if i < len(ours) else {}
        checks = {
            "titles": (as_text(entry["title"]), title(entry["title"], mine.get("title"))),
            # A space is not a URL's: "a b" and "a%20b" are one link, the second valid.
            "links": (space_encoded(entry["link"]), mine.get("url")),
            "dates": (entry["date"], epoch(mine.get("published"))),
        }
        for key, (expected, got) in checks.items():
            if expected not in (None, ""):
                yield key, i, expected, got


def unsafe_kept(ours):
    """Returns what tributary kept of a sanitize sample when it holds anything unsafe, else None."""
    kept = " ".join(str(i.get(k) or "") for i in ours for k in ("title", "summary", "content"))
    return kept if UNSAFE.search(kept) else None


def compare(every, reference, binary, agree, misread):
    """Reads every document with tributary and counts, in `agree`, the values it gives as
    feedparser does, and in `misread` those of FEEDPARSER_MISREADS, which `agree` leaves out;
    returns the disagreements, one line each, the documents that disagree and the names of those
    refused in which feedparser finds entries."""
    refused, mismatches, documents = [], [], []
    for name, path, content_type, base in every:
        ours = tributary_entries(binary, path, content_type, base)
        if "/sanitize/" in path:
            if ours:
                kept = unsafe_kept(ours)
                agree["sanitized"][1] += 1
                agree["sanitized"][0] += kept is None
                if kept is not None:
                    mismatches.append(f"{name}: unsafe: {kept[:200]!r}")
            continue
        # An entry that holds nothing is not counted: see the module's doc.
        theirs = [entry for entry in reference[path] if not entry["empty"]]
        if not theirs:
            continue
        counted = None if ours is None else len(ours)
        if ours is None:
            refused.append(name)
            ours = []
        agree["counts"][1] += 1
        agree["counts"][0] += len(ours) == len(theirs)
        measures = collections.Counter()
        if len(ours) != len(theirs):
            measures["counts"] += 1
            mismatches.append(f"{name}: {len(ours)} entries, feedparser {len(theirs)}")
        first = None
        for key, i, expected, got in entry_checks(theirs, ours):
            if (name, key) in FEEDPARSER_MISREADS and expected != got:
                misread[key] += 1
                continue
            agree[key][1] += 1
            agree[key][0] += expected == got
            if expected != got:
                measures[key] += 1
                first = first or (key, i, expected, got)
                mismatches.append(f"{name}[{i}] {key}: {got!r}, feedparser {expected!r}")
        if measures:
            documents.append(Disagreement(name, len(theirs), counted, measures, first))
    return mismatches, documents, refused


def cells(expected, got):
    """Returns feedparser's and tributary's values as Markdown table cells, shortened: when two
    long strings share a beginning it is elided, so that the cells show where they part."""
    if isinstance(expected, str) and isinstance(got, str):
        shared = len(os.path.commonprefix([expected, got]))
        if shared > 30:
            expected, got = "…" + expected[shared - 10 :], "…" + got[shared - 10 :]

    def cell(value):
        text = repr(value)
        text = text if len(text) <= 70 else text[:67] + "..."
        return "`" + text.replace("|", "\\|").replace("`", "'") + "`"

    return cell(expected), cell(got)


def print_table(documents):
    """Prints each disagreeing document as a row of a Markdown table."""
    columns = ("document", "entries: feedparser / tributary", "disagree", "first example")
    print("| " + " | ".join(columns) + " |\n|" + " --- |" * len(columns))
    for d in documents:
        ours = "refused" if d.ours is None else d.ours
        measures = ", ".join(f"{k} ×{n}" if k != "counts" else k for k, n in d.measures.items())
        example = ""
        if d.first:
            key, i, expected, got = d.first
            theirs, ours_value = cells(expected, got)
            example = f"{key} [{i}]: feedparser {theirs}, tributary {ours_value}"
        print(f"| {d.name} | {d.theirs} / {ours} | {measures} | {example} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", choices=sorted(FLOORS), default="samples")
    parser.add_argument("--tributary", default=os.path.join(ROOT, "target/release/tributary"))
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--table", action="store_true")
    parser.add_argument("--mismatches")
    args = parser.parse_args()
    try:
        tests, python = setup()
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"cannot fetch feedparser {VERSION} from PyPI: {e}")
        sys.exit(UNREACHABLE)
    if args.corpus == "samples":
        label, suffix = f"feedparser {VERSION}'s samples", ""
        every = [Document(os.path.relpath(p, tests), p, t, b) for p, t, b in samples(tests)]
    else:
        label, suffix = "real documents", "-real"
        every = real_documents()
    mismatches_file = args.mismatches or os.path.join(WORK, f"mismatches{suffix}.txt")
    read = subprocess.run(
        [python, "-c", READ_WITH_FEEDPARSER],
        input=json.dumps([(d.path, d.content_type, d.base) for d in every]).encode(),
        capture_output=True,
        check=True,
    )
    reference = json.loads(read.stdout)

    floors = FLOORS[args.corpus]
    agree = {k: [0, 0] for k in floors}
    misread = collections.Counter()
    mismatches, documents, refused = compare(every, reference, args.tributary, agree, misread)
    with open(mismatches_file, "w") as f:
        f.write("\n".join(mismatches + [f"refused: {r}" for r in refused]) + "\n")
    print(f"{label}: {len(every)} read by both")
    failed = []
    for key, (good, total) in agree.items():
        share = 100.0 * good / total if total else 100.0
        print(f"  {key:<10} {good:>5} of {total:<5} {share:6.1f} %")
        if share < floors[key]:
            failed.append(f"{key} {share:.1f} % < {floors[key]} %")
    for key, count in misread.items():
        print(f"  {key:<10} {count:>5} more that feedparser misreads, left out (FEEDPARSER_MISREADS)")
    print(f"  refused    {len(refused):>5} documents in which feedparser finds entries")
    if len(refused) > MOST_REFUSED:
        failed.append(f"{len(refused)} refused > {MOST_REFUSED}")
    print(f"  each disagreement: {mismatches_file}")
    if args.table:
        print_table(documents)
    if args.check and failed:
        print("below the floors: " + "; ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
