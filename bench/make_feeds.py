"""Writes COUNT distinct RSS 2.0 feeds of ITEMS items each into DIR (0.xml, 1.xml, ...), with
news-like titles and summaries (Zipf-distributed words from an 8,000-word vocabulary) and dates over the last day, for the poll-round benchmark.

Usage: python make_feeds.py COUNT ITEMS DIR
"""
import os
import itertools
import random
import sys
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

STOP_WORDS = """the of and to a in for is on that by with as at from it was be are has have
said after will its but not an this who they their over been more new up into than about""".split()


def vocabulary(rng, size=8000):
    """Pronounceable made-up words: a vocabulary the size of a news site's working one."""
    syllables = [c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"]
    words = set()
    while len(words) < size:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))))
    words = sorted(words)
    rng.shuffle(words)
    return words


class Text:
    """Words drawn with Zipf's law over the vocabulary, as in real text."""

    def __init__(self, rng):
        self.rng = rng
        # The head of the distribution is English's own: function words, as in real text.
        self.words = STOP_WORDS + vocabulary(rng)
        weights = [1 / (rank + 1) for rank in range(len(self.words))]
        self.cumulative = list(itertools.accumulate(weights))

    def sentence(self, n):
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=n))


def main():
    count, items, folder = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(folder, exist_ok=True)
    rng = random.Random(7)
    text = Text(rng)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for feed in range(count):
        entries = []
        for i in range(items):
            title = f"{text.sentence(7).capitalize()} ({feed}-{i})"
            summary = text.sentence(40).capitalize() + "."
            date = format_datetime(now - timedelta(minutes=rng.randint(0, 24 * 60)))
            link = f"https://outlet{feed % 10}.example/news/{feed}/{i}"
            entries.append(
                f"<item><title>{title}</title><link>{link}</link><guid>{link}</guid>"
                f"<description>&lt;p&gt;{summary}&lt;/p&gt;</description>"
                f"<pubDate>{date}</pubDate><category>{text.sentence(1)}</category></item>"
            )
        with open(os.path.join(folder, f"{feed}.xml"), "w") as out:
            out.write(
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Feed {feed}</title><link>https://outlet{feed % 10}.example/</link>"
                f"<description>Generated feed {feed}</description>{''.join(entries)}"
                "</channel></rss>"
            )


if __name__ == "__main__":
    main()
