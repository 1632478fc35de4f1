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
fn repeated_ids_keep_the_first() {
    let items = vec![
        item("a", Some("https://x.example/1")),
        item("a", Some("https://x.example/other")),
        item("c", None),
        item("d", None),
    ];
    let kept: Vec<_> = within_document(items)
        .into_iter()
        .map(|i| i.title)
        .collect();
    assert_eq!(kept, ["a", "c", "d"]);
}

#[test]
fn entries_sharing_a_link_are_one_only_when_they_say_the_same() {
    let summarized = |guid: &str, summary: &str| Item {
        summary: Some(summary.into()),
        ..item(guid, Some("https://podcast.example/"))
    };
    let items = vec![
        summarized("episode-1", "We talk about rivers."),
        summarized("episode-2", "We talk about mountains."),
        // The first episode again under a new GUID, and a new headline.
        Item {
            title: "Rivers, revisited".into(),
            ..summarized("episode-1-again", "We talk about rivers.")
        },
    ];
    let kept: Vec<_> = within_document(items)
        .into_iter()
        .map(|i| i.guid.unwrap_or_default())
        .collect();
    assert_eq!(kept, ["episode-1", "episode-2"]);
}

/// Builds a post of 25 June 2017 under `guid` and `link`, published at `hour`, saying `title`.
fn post_of_the_day(guid: &str, link: &str, title: &str, hour: u32) -> Item {
    Item {
        published: Some(
            chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2017, 6, 25, hour, 0, 0).unwrap(),
        ),
        summary: Some(format!("{title}, in a few words.")),
        ..item(guid, Some(link))
    }
}

#[test]
fn two_posts_given_one_guid_are_two_entries_and_a_repeat_is_one() {
    let link = "http://scripting.com/2017/06/25.html#a080631";
    let post = |title: &str, hour: u32| post_of_the_day(link, link, title, hour);
    let items = vec![
        post("Good morning", 12),
        post("Dropbox", 15),
        post("Good morning", 12),
    ];
    let kept = within_document(items);
    let summaries: Vec<&str> = kept
        .iter()
        .map(|i| i.summary.as_deref().unwrap_or_default())
        .collect();
    assert_eq!(
        summaries,
        ["Good morning, in a few words.", "Dropbox, in a few words."]
    );
    assert_ne!(kept[0].id, kept[1].id);
}

#[test]
fn the_earliest_of_entries_given_one_guid_keeps_its_id_wherever_it_is_listed() {
    let post = |title: &str, hour: u32| {
        post_of_the_day(
            "reused",
            "https://blog.example/2017/06/25.html",
            title,
            hour,
        )
    };
    let alone = within_document(vec![post("Older", 9)]);
    let newest_first = within_document(vec![post("Newer", 15), post("Older", 9)]);
    let oldest_first = within_document(vec![post("Older", 9), post("Newer", 15)]);
    assert_eq!(
        newest_first[1].id, alone[0].id,
        "the older post keeps its item"
    );
    assert_ne!(newest_first[0].id, alone[0].id);
    assert_eq!(newest_first[0].id, oldest_first[1].id);
}

#[test]
fn episodes_sharing_a_link_and_a_blurb_are_told_apart_by_their_audio() {
    let episode = |guid: &str| Item {
        summary: Some("The show about slow things.".into()),
        enclosures: vec![crate::model::Enclosure {
            url: format!("https://cdn.example/{guid}.mp3"),
            mime_type: Some("audio/mpeg".into()),
            length: None,
        }],
        ..item(guid, Some("https://podcast.example/"))
    };
    let kept = within_document(vec![episode("ep-2"), episode("ep-1"), episode("ep-1")]);
    let guids: Vec<&str> = kept.iter().filter_map(|i| i.guid.as_deref()).collect();
    assert_eq!(guids, ["ep-2", "ep-1"]);
}
