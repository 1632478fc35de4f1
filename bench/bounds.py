"""What no reader or outlet can stall, measured against the release daemon on loopback.

    python3 bench/bounds.py        # after `cargo build --release`; about a minute

1. Searches: 50,000 items stored; four clients search without pause for 10 s (two with 5,000
   prefix terms, two with the costliest query allowed) while /healthz and /status are timed
   and an outlet's new item is waited for (polled every second).
2. Connections: 1,100 idle sockets, then /feed.xml timed; then how long until they are closed.
3. Parsing: `tributary parse` of one item whose content is 100,000 nested <div>s.
"""

import http.server
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target/release/tributary")
JUST_IN = os.path.join(ROOT, "tests/fixtures/abc/abc-justin-51120-2017-05-23.xml")
DOCS = {}


def small_feed(titles):
    items = "".join(
        f"<item><title>{t}</title><link>https://fresh.example/{i}</link>"
        f"<pubDate>Tue, 23 May 2017 1{i}:00:00 GMT</pubDate></item>"
        for i, t in enumerate(titles)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Fresh</title>'
        f"<link>https://fresh.example/</link>{items}</channel></rss>"
    ).encode()


class Outlet(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = DOCS.get(self.path)
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=30):
    """The status and the seconds a GET took."""
    asked = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        status = e.code
    return status, time.perf_counter() - asked


def items(base):
    import json

    with urllib.request.urlopen(base + "/healthz") as r:
        return json.load(r)["items"]


def wait_for_items(base, count, limit=120):
    deadline = time.time() + limit
    while time.time() < deadline:
        try:
            if items(base) >= count:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"never reached {count} items")


def start(work, config):
    log = open(os.path.join(work, "daemon.log"), "ab")
    return subprocess.Popen([BINARY, "run", "--config", config], stderr=log)


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def summary(name, timings):
    print(
        f"  {name:<34} n={len(timings):<5} median {ms(statistics.median(timings)):>9}"
        f"  max {ms(max(timings)):>9}"
    )


def copy_to_50_000(database):
    db = sqlite3.connect(database)
    db.executescript(
        """WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 199)
        INSERT INTO items (id, outlet, url, feed_url, sort_at, first_seen, modified_at,
                           content_hash, data, story, signature)
        SELECT id || '-' || k, outlet, url || '?copy=' || k, feed_url, sort_at - k * 86400,
               first_seen - k * 86400, modified_at, content_hash, data, id || '-' || k, signature
        FROM items, n WHERE outlet = 'abc';
        INSERT INTO items_search (rowid, title, summary)
        SELECT copy.rowid, s.title, s.summary FROM items copy
        JOIN items original ON original.id = substr(copy.id, 1, instr(copy.id, '-') - 1)
        JOIN items_search s ON s.rowid = original.rowid WHERE instr(copy.id, '-') > 0;"""
    )
    db.commit()
    db.close()


def searches(base, fresh_port):
    refused = "/feed.xml?q=" + "m*+" * 5000
    costliest = "/feed.xml?q=the*+pol*+gov*+min*+sta*+aus*+new*+sai*"
    until = time.time() + 10
    results = {}

    def hammer(name, path):
        while time.time() < until:
            results.setdefault(name, []).append(get(base + path))

    threads = [
        threading.Thread(target=hammer, args=(name, path))
        for name, path in [
            ("5,000-term search (a)", refused),
            ("5,000-term search (b)", refused),
            ("costliest allowed search (a)", costliest),
            ("costliest allowed search (b)", costliest),
            ("/healthz meanwhile", "/healthz"),
            ("/status meanwhile", "/status"),
        ]
    ]
    for t in threads:
        t.start()
    time.sleep(1)
    DOCS["/fresh.xml"] = small_feed(["First", "Second"])
    changed = time.time()
    wait_for_items(base, 50_002)
    appeared = time.time() - changed
    for t in threads:
        t.join()
    print("1. Searches, 50,000 items stored, 10 s:")
    for name, answers in sorted(results.items()):
        statuses = sorted({s for s, _ in answers})
        summary(f"{name} {statuses}", [t for _, t in answers])
    print(f"  a new item polled every second appeared after {appeared:.1f} s")


def connections(base, port):
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(1100)]
    opened = time.time()
    summary("/feed.xml beside 1,100 idle sockets", [get(base + "/feed.xml")[1] for _ in range(20)])
    for s in idle:
        s.settimeout(30)
        s.recv(1)
    print(f"  the 1,100 idle sockets were closed after {time.time() - opened:.1f} s")


def parsing(work):
    depth = 100_000
    html = "<div>" * depth + "inside" + "</div>" * depth
    path = os.path.join(work, "deep.xml")
    with open(path, "w") as f:
        f.write(
            '<?xml version="1.0"?><rss version="2.0" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>t</title>'
            "<link>https://x.example/</link><item><title>Deep</title>"
            f"<link>https://x.example/d</link><content:encoded><![CDATA[{html}]]>"
            "</content:encoded></item></channel></rss>"
        )
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        subprocess.run([BINARY, "parse", path], capture_output=True, check=True)
        runs.append(time.perf_counter() - began)
    print("3. Parsing:")
    summary("100,000 nested <div>s (1.1 MB)", runs)


def main():
    work = tempfile.mkdtemp(prefix="tributary-bounds-")
    fresh_port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", fresh_port), Outlet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with open(JUST_IN, "rb") as f:
        DOCS["/top.xml"] = f.read()
    DOCS["/fresh.xml"] = small_feed(["First"])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = os.path.join(work, "feeds.toml")
    with open(config, "w") as f:
        f.write(
            f'[server]\nlisten = "127.0.0.1:{port}"\nbase_url = "http://news.example/"\n'
            f'[storage]\npath = "{work}/bounds.db"\nretention_days = 36500\n'
            '[polling]\nschedule = "* * * * * *"\nmin_interval_secs = 0\n'
            f'[[outlet]]\nid = "abc"\nname = "ABC"\nfeeds = ["http://127.0.0.1:{fresh_port}/top.xml"]\n'
            f'[[outlet]]\nid = "fresh"\nname = "Fresh"\nfeeds = ["http://127.0.0.1:{fresh_port}/fresh.xml"]\n'
        )
    daemon = start(work, config)
    wait_for_items(base, 251)
    daemon.send_signal(signal.SIGTERM)
    daemon.wait()
    copy_to_50_000(os.path.join(work, "bounds.db"))
    daemon = start(work, config)
    try:
        wait_for_items(base, 50_001)
        searches(base, fresh_port)
        print("2. Connections:")
        connections(base, port)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait()
    parsing(work)


if __name__ == "__main__":
    main()
