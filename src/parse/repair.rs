//! Mending the XML mistakes real feeds make, on the decoded text, before the XML reader sees
//! it: HTML entities XML never declared, bare ampersands, a DTD (never fetched or expanded: it
//! is dropped, so no entity it declares can reach the reader), declarations where none may
//! stand. What was mended is noted, so that a malformed document is recorded as such even when
//! nothing was lost.

use std::collections::BTreeSet;

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
    while let Some(at) = memchr::memchr2(b'<', b'&', rest.as_bytes()) {
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
    Repaired { text: out, notes }
}

/// Drops the XML declaration `text` starts with, if any. The text is UTF-8 now: a declaration
/// naming its old encoding would make the parser decode it a second time.
fn without_declaration(text: &str) -> &str {
    match declaration_end(text) {
        Some(end) => text[end..].trim_start(),
        None => text,
    }
}

/// Finds where the declaration `text` starts with ends: at its `?>`, which must come before the
/// next `<` (a declaration left unclosed must not swallow the document).
fn declaration_end(text: &str) -> Option<usize> {
    if !is_declaration(text) {
        return None;
    }
    let end = text.find("?>")?;
    let next_tag = text[1..].find('<').map_or(text.len(), |at| at + 1);
    (end < next_tag).then_some(end + 2)
}

/// Tells whether `text` starts with an XML declaration (`<?xml` and a space or `?>`; not a
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
            "<?xml-stylesheet href=\"s.xsl\"?><rss></rss>"
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
}
