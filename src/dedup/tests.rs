use super::*;

fn item(key: &str, url: Option<&str>) -> Item {
    Item {
        url: url.map(str::to_owned),
        guid: Some(key.into()),
        ..Item::new("o", key)
    }
    .identified()
}

#[test]
fn repeated_ids_and_links_keep_the_first() {
    let items = vec![
        item("a", Some("https://x.example/1")),
        item("a", Some("https://x.example/other")),
        item("b", Some("https://x.example/1")),
        item("c", None),
        item("d", None),
    ];
    let kept: Vec<_> = within_document(items)
        .into_iter()
        .map(|i| i.title)
        .collect();
    assert_eq!(kept, ["a", "c", "d"]);
}
