//! Parse + normalize throughput on the real ABC "Just In" capture (250 items): bytes of feed XML
//! to sanitized, normalized items, against `feed-rs` alone on the same bytes (the parser under
//! `parse_feed`, without the normalizing, sanitizing and mending around it: how fast tributary
//! could be while it reads feeds with feed-rs) and a bare `quick-xml` event loop over them (the
//! ceiling: reading the XML and nothing else). `bench/run.sh` sets these beside Python's
//! `feedparser` and `fastfeedparser` on the same bytes.
//!
//! Run: `cargo bench --bench parse`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use quick_xml::events::Event;

const JUST_IN: &str = "tests/fixtures/abc/abc-justin-51120-2017-05-23.xml";

fn parse(c: &mut Criterion) {
    let bytes = std::fs::read(JUST_IN).expect("the Just In capture");
    let mut group = c.benchmark_group("just-in");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("tributary parse_feed", |b| {
        b.iter(|| {
            let parsed =
                tributary::parse::parse_feed(&bytes, Some("application/rss+xml"), None, "abc")
                    .expect("the capture parses");
            assert_eq!(parsed.items.len(), 250);
            parsed
        })
    });
    group.bench_function("feed-rs alone", |b| {
        b.iter(|| {
            let feed = feed_rs::parser::Builder::new()
                .sanitize_content(false)
                .build()
                .parse(&bytes[..])
                .expect("the capture parses");
            assert_eq!(feed.entries.len(), 250);
            feed
        })
    });
    group.bench_function("rss crate alone", |b| {
        b.iter(|| {
            let channel = rss::Channel::read_from(&bytes[..]).expect("the capture parses");
            assert_eq!(channel.items().len(), 250);
            channel
        })
    });
    group.bench_function("quick-xml event loop (ceiling)", |b| {
        b.iter(|| {
            let mut reader = quick_xml::Reader::from_reader(&bytes[..]);
            let mut buffer = Vec::new();
            let mut events = 0usize;
            loop {
                match reader.read_event_into(&mut buffer) {
                    Ok(Event::Eof) => break,
                    Ok(_) => events += 1,
                    Err(e) => panic!("{e}"),
                }
                buffer.clear();
            }
            events
        })
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
