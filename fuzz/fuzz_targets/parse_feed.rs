//! Any bytes through the whole of reading a feed: decoding, mending, parsing, normalizing.
//! Nothing may panic, and what comes out must keep the item model's promises.

#![no_main]

use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let feed_url = Url::parse("https://fuzz.example/news/feed.xml").expect("a valid URL");
    // Half the inputs say they came with a charset, so that path is explored too.
    let content_type = (data.first() == Some(&b'<')).then_some("text/xml; charset=iso-8859-1");
    let Ok(parsed) = tributary::parse::parse_feed(data, content_type, Some(&feed_url), "fuzz") else {
        return;
    };
    for item in parsed.items {
        assert!(!item.id.as_str().is_empty());
        assert_eq!(item.title, item.title.split_whitespace().collect::<Vec<_>>().join(" "));
        if let Some(url) = &item.url {
            assert!(url.starts_with("http://") || url.starts_with("https://"), "{url}");
        }
        // Sanitized HTML writes attributes in double quotes: a dangerous URL would start one.
        for html in [&item.summary, &item.content].into_iter().flatten() {
            let lower = html.to_ascii_lowercase();
            for unsafe_html in ["<script", "=\"javascript:", "=\"data:", " onerror=", " style="] {
                assert!(!lower.contains(unsafe_html), "{unsafe_html} in {html}");
            }
        }
    }
});
