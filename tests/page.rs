//! The river of news as a browser shows it: the page is rendered in headless Chromium at a
//! phone's width (390 px), and the test reads what a person would see: the stories, their
//! thumbnails loaded from their own URLs, "also reported by", and nothing wider than the screen.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Builds an RSS feed of `stories` (title, summary, link slug), each with a thumbnail on `server`.
fn feed(server: &FixtureServer, outlet: &str, stories: &[(&str, &str, &str)]) -> Vec<u8> {
    let items: String = stories
        .iter()
        .enumerate()
        .map(|(n, (title, summary, slug))| {
            format!(
                "<item><title>{title}</title><link>https://{outlet}.example/{slug}</link>\
                 <guid>{outlet}-{slug}</guid><description>{summary}</description>\
                 <pubDate>{}</pubDate>\
                 <media:thumbnail url=\"{}\" width=\"120\" height=\"80\"/></item>",
                // 3, 2 and 1 hours old: the page shows "N h ago" whatever the day.
                (chrono::Utc::now() - chrono::Duration::hours(3 - n as i64)).to_rfc2822(),
                server.url(&format!("/img/{outlet}-{n}.svg"))
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:media=\"http://search.yahoo.com/mrss/\">\
         <channel><title>{outlet}</title><link>https://{outlet}.example/</link>\
         <description>d</description>{items}</channel></rss>"
    )
    .into_bytes()
}

const SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"120\" height=\"80\">\
                   <rect width=\"120\" height=\"80\" fill=\"teal\"/></svg>";

/// Frames the page at 390 px in a page of the same origin and writes what it shows as JSON.
const HARNESS: &str = r#"<!doctype html><html><body>
<iframe id="page" src="/river.html" style="width:390px;height:844px;border:0"></iframe>
<pre id="result">pending</pre>
<script>
const frame = document.getElementById('page');
frame.addEventListener('load', () => {
  const page = frame.contentDocument;
  const images = [...page.images];
  images.forEach(image => { image.loading = 'eager'; });
  Promise.all(images.map(image => image.decode().catch(() => null))).then(() => {
    const seen = {
      scrollWidth: page.documentElement.scrollWidth,
      clientWidth: page.documentElement.clientWidth,
      widest: Math.max(...[...page.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right)),
      stories: [...page.querySelectorAll('article h2')].map(h => h.textContent.trim()),
      outlets: [...page.querySelectorAll('article .meta')].map(p => p.textContent.trim()),
      images: images.map(i => ({ src: i.src, loaded: i.complete && i.naturalWidth > 0, width: i.getBoundingClientRect().width })),
      also: [...page.querySelectorAll('.also')].map(p => p.textContent.trim()),
      nav: [...page.querySelectorAll('nav a')].map(a => a.textContent.trim()),
      feeds: [...page.querySelectorAll('link[rel=alternate]')].map(l => l.type),
    };
    document.getElementById('result').textContent = JSON.stringify(seen);
  });
});
</script></body></html>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_shows_every_story_with_its_image_and_nothing_overflows() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium: .ci/run installs Debian's chromium"
        );
        eprintln!("skipped: no chromium on this machine (apt-get install chromium)");
        return;
    };
    let server = FixtureServer::start().await;
    let long_word = "Supercalifragilisticexpialidocious".repeat(4);
    let abc = feed(
        &server,
        "abc",
        &[
            (
                "Flood waters rise across the Murray as towns brace",
                "Emergency crews sandbag levees along the river.",
                "flood",
            ),
            (
                &format!("A headline with {long_word} in it"),
                &format!("A summary with {long_word} that must wrap"),
                "long",
            ),
            (
                "ירושלים: כותרת מימין לשמאל",
                "Texte &amp; «guillemets» 📰",
                "rtl",
            ),
        ],
    );
    let news = feed(
        &server,
        "news",
        &[(
            "Flood waters rise across the Murray as towns brace",
            "Emergency crews sandbag levees along the river.",
            "murray-flood",
        )],
    );
    server.serve("/abc.xml", Doc::body(200, abc));
    server.serve("/news.xml", Doc::body(200, news));
    for image in ["abc-0", "abc-1", "abc-2", "news-0"] {
        server.serve(
            &format!("/img/{image}.svg"),
            Doc::body(200, SVG.as_bytes().to_vec()).with_header("content-type", "image/svg+xml"),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let config = config(
        free_port(),
        &[
            ("abc", &[server.url("/abc.xml")]),
            ("news", &[server.url("/news.xml")]),
        ],
    );
    let daemon = Daemon::start(dir.path(), &config).await;
    daemon.wait_for_items(4).await;

    let response = daemon.get("/").await;
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    assert!(
        !policy.contains("script-src"),
        "the page needs no script: {policy}"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let html = response.text().await.unwrap();
    assert!(
        html.contains("<link rel=\"alternate\" type=\"application/rss+xml\""),
        "{html}"
    );
    server.serve(
        "/river.html",
        Doc::body(200, html.into_bytes()).with_header("content-type", "text/html; charset=utf-8"),
    );
    server.serve(
        "/harness.html",
        Doc::body(200, HARNESS.as_bytes().to_vec())
            .with_header("content-type", "text/html; charset=utf-8"),
    );

    let harness = server.url("/harness.html");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--virtual-time-budget=15000",
                "--dump-dom",
                &harness,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let dom = String::from_utf8_lossy(&output.stdout);
    let json = dom
        .split("<pre id=\"result\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_else(|| {
            panic!(
                "no result in {dom}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let json = json
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"");
    let seen: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));

    let stories: Vec<&str> = seen["stories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        stories.len(),
        3,
        "the flood story once, with who else reported it: {seen}"
    );
    assert!(stories.contains(&"Flood waters rise across the Murray as towns brace"));
    assert!(stories.contains(&"ירושלים: כותרת מימין לשמאל"));
    let also = seen["also"].as_array().unwrap();
    assert_eq!(also.len(), 1, "{seen}");
    assert!(["Also reported by abc name", "Also reported by news name"]
        .contains(&also[0].as_str().unwrap()));
    for meta in seen["outlets"].as_array().unwrap() {
        let meta = meta.as_str().unwrap();
        assert!(
            meta.contains(" name · ") && meta.ends_with(" h ago"),
            "{meta}"
        );
    }
    assert_eq!(
        seen["nav"],
        serde_json::json!(["All", "abc name", "news name"])
    );
    assert_eq!(
        seen["feeds"],
        serde_json::json!([
            "application/rss+xml",
            "application/atom+xml",
            "application/feed+json"
        ])
    );
    for image in seen["images"].as_array().unwrap() {
        assert_eq!(image["loaded"], true, "{image}");
        assert!(
            image["src"]
                .as_str()
                .unwrap()
                .starts_with(&server.url("/img/")),
            "{image}"
        );
        assert!(image["width"].as_f64().unwrap() <= 120.0, "{image}");
    }
    assert_eq!(seen["images"].as_array().unwrap().len(), 3, "{seen}");
    for image in seen["images"].as_array().unwrap() {
        let path = image["src"].as_str().unwrap().replace(&server.url(""), "");
        assert!(
            !server.seen(&path).is_empty(),
            "{path} was loaded from its own URL"
        );
    }
    assert!(
        seen["scrollWidth"].as_f64() <= seen["clientWidth"].as_f64()
            && seen["widest"].as_f64().unwrap() <= 390.5,
        "the page is wider than a 390 px screen: {seen}"
    );
}
