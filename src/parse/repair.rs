//! Mending the XML mistakes real feeds make, on the decoded text, before the XML parser sees
//! it: HTML entities XML never declared, bare ampersands, a DTD (never fetched or expanded: it
//! is dropped, so no entity it declares can reach the parser), an RSS root without a version
//! the parser knows, the retired namespaces of RSS 0.90 and Atom 0.3, and — when the parser
//! still fails — a document cut off mid-way, closed after its last complete item. What was mended is noted, so that a malformed document is
//! recorded as such even when nothing was lost.

use std::collections::BTreeSet;

use quick_xml::events::Event;
use quick_xml::Reader;

/// A document the XML parser can read, and what was mended to get it.
pub struct Repaired {
    pub text: String,
    pub notes: BTreeSet<&'static str>,
}

/// Mends what can be mended without knowing whether the parser would have managed.
pub fn repair(text: &str) -> Repaired {
    let mut notes = BTreeSet::new();
    let text = without_declaration(
        text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}'),
    );
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(at) = rest.find(['<', '&']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        rest = if rest.starts_with('&') {
            entity(rest, &mut out, &mut notes)
        } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
            copy_through(body, "<![CDATA[", "]]>", &mut out, &mut notes)
        } else if let Some(body) = rest.strip_prefix("<!--") {
            copy_through(body, "<!--", "-->", &mut out, &mut notes)
        } else if rest
            .get(..9)
            .is_some_and(|s| s.eq_ignore_ascii_case("<!DOCTYPE"))
        {
            skip_doctype(rest, &mut notes)
        } else if let Some(end) = declaration_end(rest) {
            // Only the first line may declare the document, and that one is gone already;
            // another one further down would make the parser switch encodings mid-stream.
            notes.insert("a misplaced XML declaration was dropped");
            &rest[end..]
        } else if let Some(body) = rest.strip_prefix("<?") {
            copy_through(body, "<?", "?>", &mut out, &mut notes)
        } else {
            out.push('<');
            &rest[1..]
        };
    }
    out.push_str(rest);
    Repaired {
        text: with_current_namespaces(with_known_rss_version(out)),
        notes,
    }
}

/// The text is UTF-8 now: a declaration naming its old encoding would make the parser decode
/// it a second time.
fn without_declaration(text: &str) -> &str {
    match declaration_end(text) {
        Some(end) => text[end..].trim_start(),
        None => text,
    }
}

/// Where the declaration `text` starts with ends: at its `?>`, which must come before the
/// next `<` (a declaration left unclosed must not swallow the document).
fn declaration_end(text: &str) -> Option<usize> {
    if !is_declaration(text) {
        return None;
    }
    let end = text.find("?>")?;
    let next_tag = text[1..].find('<').map_or(text.len(), |at| at + 1);
    (end < next_tag).then_some(end + 2)
}

/// The text with every `<?xml` declaration, wherever it stands, made a plain processing
/// instruction: the last resort when the parser stumbled on one left inside a section that
/// was never closed (where a broken document ran into another).
pub fn without_any_declaration(text: &str) -> String {
    ["<?xml ", "<?xml\t", "<?xml\n", "<?xml\r", "<?xml?"]
        .iter()
        .fold(text.to_owned(), |text, declaration| {
            text.replace(declaration, "<?xml-dropped ")
        })
}

/// Whether `text` starts with an XML declaration (`<?xml` and a space or `?>`; not a
/// processing instruction such as `<?xml-stylesheet`).
fn is_declaration(text: &str) -> bool {
    text.strip_prefix("<?xml")
        .is_some_and(|rest| rest.starts_with(char::is_whitespace) || rest.starts_with("?>"))
}

/// Copies `open`, `body` up to and including `close`, or closes what the document left open.
fn copy_through<'a>(
    body: &'a str,
    open: &str,
    close: &str,
    out: &mut String,
    notes: &mut BTreeSet<&'static str>,
) -> &'a str {
    out.push_str(open);
    match body.find(close) {
        Some(end) => {
            out.push_str(&body[..end + close.len()]);
            &body[end + close.len()..]
        }
        None => {
            notes.insert("an unclosed CDATA section, comment or instruction was closed");
            out.push_str(body);
            out.push_str(close);
            ""
        }
    }
}

/// Drops a `<!DOCTYPE …>`, internal subset included.
fn skip_doctype<'a>(rest: &'a str, notes: &mut BTreeSet<&'static str>) -> &'a str {
    let subset_start = rest.find('[');
    let first_close = rest.find('>').unwrap_or(rest.len());
    let end = match subset_start {
        Some(open) if open < first_close => {
            if rest[open..].contains("<!ENTITY") {
                notes.insert("a DTD declaring entities was ignored");
            }
            rest[open..]
                .find("]")
                .and_then(|close| rest[open + close..].find('>').map(|gt| open + close + gt))
                .unwrap_or(rest.len() - 1)
        }
        _ => first_close.min(rest.len() - 1),
    };
    &rest[end + 1..]
}

/// Writes the reference at the start of `rest` so that XML accepts it; returns what follows.
fn entity<'a>(rest: &'a str, out: &mut String, notes: &mut BTreeSet<&'static str>) -> &'a str {
    let name_end = rest[1..]
        .char_indices()
        .take(32)
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '#'))
        .map(|(i, c)| (i + 1, c));
    let Some((end, ';')) = name_end else {
        notes.insert("bare ampersands were escaped");
        out.push_str("&amp;");
        return &rest[1..];
    };
    let name = &rest[1..end];
    let after = &rest[end + 1..];
    if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
        out.push_str(&rest[..=end]);
        return after;
    }
    if let Some(number) = name.strip_prefix('#') {
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => number.parse().ok(),
        };
        match code.and_then(char::from_u32).filter(|c| is_xml_char(*c)) {
            Some(c) => out.push_str(&format!("&#{};", c as u32)),
            None => {
                notes.insert("character references to no valid character were dropped");
                out.push('\u{fffd}');
            }
        }
        return after;
    }
    let reference = &rest[..=end];
    let decoded = html_escape::decode_html_entities(reference);
    if decoded != reference {
        notes.insert("HTML entities undeclared in XML were replaced");
        for c in decoded.chars() {
            out.push_str(&format!("&#{};", c as u32));
        }
    } else {
        notes.insert("unknown entities were kept as text");
        out.push_str("&amp;");
        out.push_str(&rest[1..=end]);
    }
    after
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

/// The parser reads RSS only as 0.91, 0.92 or 2.0; 0.93, 0.94 and a missing version are 2.0
/// in all that matters.
fn with_known_rss_version(text: String) -> String {
    let Some(start) = text.find("<rss") else {
        return text;
    };
    let Some(tag_end) = text[start..].find('>').map(|end| start + end) else {
        return text;
    };
    let tag = &text[start..tag_end];
    if !tag[4..].starts_with(|c: char| c.is_whitespace() || c == '/') && tag.len() > 4 {
        return text;
    }
    let version = tag.find("version=").and_then(|at| {
        let quote = tag[at + 8..]
            .chars()
            .next()
            .filter(|q| matches!(q, '"' | '\''))?;
        let value_end = tag[at + 9..].find(quote)?;
        Some((at, at + 9 + value_end + 1, &tag[at + 9..at + 9 + value_end]))
    });
    match version {
        Some((_, _, "0.91" | "0.92" | "2.0")) => text,
        Some((from, to, _)) => {
            format!(
                "{}version=\"2.0\"{}",
                &text[..start + from],
                &text[start + to..]
            )
        }
        None => format!(
            "{} version=\"2.0\"{}",
            &text[..start + 4],
            &text[start + 4..]
        ),
    }
}

/// RSS 0.90 and Atom 0.3 are read as their successors, which kept their elements: the same
/// document under the newer namespace; for Atom 0.3, its dates under their 1.0 names and the
/// MIME types of its text constructs as 1.0's `text`, `html` and `xhtml`.
fn with_current_namespaces(text: String) -> String {
    const RSS_0_90: [&str; 2] = [
        "http://my.netscape.com/rdf/simple/0.9/",
        "http://channel.netscape.com/rdf/simple/0.9/",
    ];
    const ATOM_0_3: &str = "http://purl.org/atom/ns#";
    if let Some(old) = RSS_0_90.iter().find(|ns| text.contains(**ns)) {
        return text.replace(old, "http://purl.org/rss/1.0/");
    }
    if !text.contains(ATOM_0_3) {
        return text;
    }
    let renamed = [("issued", "published"), ("modified", "updated")]
        .iter()
        .fold(
            text.replace(ATOM_0_3, "http://www.w3.org/2005/Atom"),
            |text, (old, new)| {
                text.replace(&format!("<{old}>"), &format!("<{new}>"))
                    .replace(&format!("</{old}>"), &format!("</{new}>"))
            },
        );
    [
        "title",
        "summary",
        "content",
        "tagline",
        "info",
        "copyright",
    ]
    .iter()
    .fold(renamed, |text, element| with_atom_1_types(&text, element))
}

/// Rewrites the `type` of every `<element …>` start tag from a MIME type to Atom 1.0's names;
/// a type Atom 1.0 has no name for is dropped (the text is then read as text).
fn with_atom_1_types(text: &str, element: &str) -> String {
    let open = format!("<{element} ");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&open) {
        let Some(tag_len) = rest[at..].find('>') else {
            break;
        };
        let (before, tag) = (&rest[..at], &rest[at..at + tag_len]);
        out.push_str(before);
        out.push_str(&retyped(tag));
        rest = &rest[at + tag_len..];
    }
    out.push_str(rest);
    out
}

fn retyped(tag: &str) -> String {
    let Some(start) = tag.find(" type=") else {
        return tag.to_owned();
    };
    let value_start = start + 7;
    let Some(quote) = tag[start + 6..]
        .chars()
        .next()
        .filter(|q| matches!(q, '"' | '\''))
    else {
        return tag.to_owned();
    };
    let Some(value_len) = tag[value_start..].find(quote) else {
        return tag.to_owned();
    };
    let attribute = match &tag[value_start..value_start + value_len] {
        "text" | "html" | "xhtml" => return tag.to_owned(),
        "text/plain" => " type=\"text\"",
        "text/html" => " type=\"html\"",
        "application/xhtml+xml" => " type=\"xhtml\"",
        _ => "",
    };
    format!(
        "{}{attribute}{}",
        &tag[..start],
        &tag[value_start + value_len + 1..]
    )
}

/// A document that ends mid-way (a truncated download, a broken CMS), closed after its last
/// complete item or entry; `None` when no item was complete.
pub fn close_truncated(text: &str) -> Option<String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = false;
    let mut open: Vec<String> = Vec::new();
    let mut last_complete: Option<(usize, Vec<String>)> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => open.push(start.name().into_inner().to_owned()),
            Ok(Event::End(end)) => {
                let name = end.name();
                let local = name.local_name();
                open.pop();
                if matches!(local.into_inner(), "item" | "entry") {
                    let position = usize::try_from(reader.buffer_position()).ok()?;
                    last_complete = Some((position, open.clone()));
                }
            }
            Ok(Event::Eof) if open.is_empty() => return None,
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let (cut, still_open) = last_complete?;
    let mut closed = text[..cut].to_owned();
    for name in still_open.iter().rev() {
        closed.push_str(&format!("</{name}>"));
    }
    Some(closed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_and_ampersands_become_xml() {
        let repaired =
            repair("<t>Tom &amp; Jerry &hellip; R&D &nbsp;&copy; &#x2014; &bogus; &#0;</t>");
        assert_eq!(
            repaired.text,
            "<t>Tom &amp; Jerry &#8230; R&amp;D &#160;&#169; &#8212; &amp;bogus; \u{fffd}</t>"
        );
        assert_eq!(repaired.notes.len(), 4, "{:?}", repaired.notes);
    }

    #[test]
    fn cdata_and_comments_are_left_alone_and_unclosed_cdata_is_closed() {
        let text = "<t><![CDATA[a & b &hellip;]]><!-- & --></t>";
        assert_eq!(repair(text).text, text);
        let open = repair("<t><![CDATA[cut off");
        assert_eq!(open.text, "<t><![CDATA[cut off]]>");
        assert_eq!(open.notes.len(), 1);
    }

    #[test]
    fn only_stylesheets_survive_among_declarations() {
        let text = "<?xml version=\"1.0\"?><?xml-stylesheet href=\"s.xsl\"?><rss><?xml version=\"1.0\" encoding=\"UTF-16\"?></rss>";
        let repaired = repair(text);
        assert_eq!(
            repaired.text,
            "<?xml-stylesheet href=\"s.xsl\"?><rss version=\"2.0\"></rss>"
        );
        assert!(repaired
            .notes
            .contains("a misplaced XML declaration was dropped"));
    }

    #[test]
    fn an_unclosed_declaration_does_not_swallow_the_document() {
        let text = "<?xml version=\"1.0\" encoding=\"UTF-8\">\n<rss version=\"2.0\"><?pi x?></rss>";
        assert!(
            repair(text).text.contains("<rss version=\"2.0\">"),
            "{}",
            repair(text).text
        );
    }

    #[test]
    fn a_dtd_is_dropped_with_its_entities() {
        let text = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n<rss version=\"2.0\"><t>&xxe;</t></rss>";
        let repaired = repair(text);
        assert_eq!(
            repaired.text,
            "\n<rss version=\"2.0\"><t>&amp;xxe;</t></rss>"
        );
        assert!(repaired
            .notes
            .contains("a DTD declaring entities was ignored"));
    }

    #[test]
    fn rss_versions_the_parser_does_not_know_become_2_0() {
        assert_eq!(
            repair("<rss><channel/></rss>").text,
            "<rss version=\"2.0\"><channel/></rss>"
        );
        assert_eq!(
            repair("<rss version=\"0.94\" a=\"b\">").text,
            "<rss version=\"2.0\" a=\"b\">"
        );
        assert_eq!(repair("<rss version='0.91'>").text, "<rss version='0.91'>");
        assert_eq!(repair("<rssfeed>").text, "<rssfeed>");
        // Found by fuzzing: an unquoted version that starts with a multi-byte character is
        // no version the parser knows (and no panic).
        assert_eq!(
            repair("<rss version=͹ x>").text,
            "<rss version=\"2.0\" version=͹ x>"
        );
    }

    #[test]
    fn retired_namespaces_are_read_as_their_successors() {
        let atom = repair("<feed xmlns=\"http://purl.org/atom/ns#\"><entry><issued>x</issued><modified>y</modified></entry></feed>");
        assert_eq!(
            atom.text,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><entry><published>x</published><updated>y</updated></entry></feed>"
        );
        let rss = repair("<rdf:RDF xmlns=\"http://my.netscape.com/rdf/simple/0.9/\"/>");
        assert_eq!(rss.text, "<rdf:RDF xmlns=\"http://purl.org/rss/1.0/\"/>");
        let typed = repair("<feed xmlns=\"http://purl.org/atom/ns#\"><title type=\"text/html\" mode=\"escaped\">a</title><summary type='odd'>b</summary><link type=\"text/html\"/></feed>");
        assert_eq!(
            typed.text,
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title type=\"html\" mode=\"escaped\">a</title><summary>b</summary><link type=\"text/html\"/></feed>"
        );
        // Found by fuzzing: an unquoted value that starts with a multi-byte character.
        let odd = "<feed xmlns=\"http://purl.org/atom/ns#\"><title type=¦x>a</title></feed>";
        assert!(repair(odd).text.contains("<title type=¦x>"));
    }

    #[test]
    fn a_truncated_document_is_closed_after_its_last_whole_item() {
        let text = "<rss version=\"2.0\"><channel><title>t</title><item><title>a</title></item><item><title>b</ti";
        assert_eq!(
            close_truncated(text).unwrap(),
            "<rss version=\"2.0\"><channel><title>t</title><item><title>a</title></item></channel></rss>"
        );
        assert_eq!(close_truncated("<rss><channel><item><title>x"), None);
        assert_eq!(close_truncated("<rss></rss>"), None);
    }
}
