//! Any bytes through the whole of reading a feed: decoding, mending, parsing, normalizing.
//! Nothing may panic, and what comes out must keep the item model's promises.

#![no_main]

use libfuzzer_sys::fuzz_target;
use url::Url;

fuzz_target!(|data: &[u8]| {
    // libFuzzer's hook aborts on any panic, even one tributary catches on purpose (feed-rs's
    // on a declaration mid-stream); a panic that escapes still aborts, in libfuzzer-sys's
    // wrapper, and counts as a crash.
    static QUIET_CAUGHT_PANICS: std::sync::Once = std::sync::Once::new();
    QUIET_CAUGHT_PANICS.call_once(|| std::panic::set_hook(Box::new(|_| {})));
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
        for html in [&item.summary, &item.content].into_iter().flatten() {
            assert_safe(html);
        }
    }
});

/// Sanitized HTML escapes every `<` of its text, so each `<` opens a tag: no tag may be a
/// script, frame, form, style or object, and no attribute an event handler, a style or a
/// `javascript:` or `data:` URL.
fn assert_safe(html: &str) {
    let lower = html.to_ascii_lowercase();
    for tag in lower.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let tag = tag.trim_start_matches('/');
        let name = tag.split_whitespace().next().unwrap_or("");
        let banned = ["script", "iframe", "frame", "form", "style", "object", "embed", "input"];
        assert!(!banned.contains(&name), "<{name}> in {html}");
        let mut rest = &tag[name.len()..];
        // Attributes as ammonia writes them: key="value" (quotes inside escaped), or key alone.
        while let Some(start) = rest.find(|c: char| !c.is_whitespace() && c != '/') {
            rest = &rest[start..];
            let key_end = rest.find(|c: char| c == '=' || c.is_whitespace()).unwrap_or(rest.len());
            let key = &rest[..key_end];
            rest = &rest[key_end..];
            let mut value = "";
            if let Some(quoted) = rest.strip_prefix("=\"") {
                let end = quoted.find('"').unwrap_or(quoted.len());
                value = &quoted[..end];
                rest = quoted.get(end + 1..).unwrap_or("");
            }
            assert!(!key.starts_with("on") && key != "style", "{key} in {html}");
            let url_attribute = matches!(key, "href" | "src" | "cite" | "poster" | "action" | "background");
            let dangerous = value.starts_with("javascript:") || value.starts_with("data:");
            assert!(!(url_attribute && dangerous), "{key}={value} in {html}");
        }
    }
}
