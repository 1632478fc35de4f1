//! Bytes → UTF-8 text. The encoding is taken, in order, from a byte-order mark, the HTTP
//! `charset`, the XML declaration, and the shape of the first bytes (UTF-16 and UTF-32 without a
//! mark); a declaration that the bytes contradict is overruled by detection (`chardetng`), so
//! the output is always valid UTF-8 and what was overruled is noted.

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};

/// A document as text, and what had to be guessed or overruled to get it.
pub struct Decoded {
    pub text: String,
    pub notes: Vec<String>,
}

/// Finds the encoding the HTTP charset, or else the XML declaration, claims, if it names one that
/// ASCII-compatible bytes can be in.
fn claimed_encoding(
    bytes: &[u8],
    http_charset: Option<&str>,
    notes: &mut Vec<String>,
) -> Option<&'static Encoding> {
    let declared = http_charset
        .map(|label| ("HTTP charset", label))
        .or_else(|| declared_encoding(bytes).map(|label| ("XML declaration", label)));
    let (source, label) = declared?;
    match Encoding::for_label_no_replacement(label.trim().as_bytes()) {
        // Bytes that reach here are ASCII-compatible: a UTF-16 claim is a leftover.
        Some(encoding) if encoding == UTF_16LE || encoding == UTF_16BE => None,
        Some(encoding) => Some(encoding),
        None => {
            notes.push(format!("unknown encoding {label:?} in the {source}"));
            None
        }
    }
}

/// Decides the encoding the bytes are read in: the claimed one, unless the bytes are UTF-8 (which
/// legacy text practically never is by chance), or detected when there is no claim and they
/// are not UTF-8.
fn settled_encoding(
    bytes: &[u8],
    claimed: Option<&'static Encoding>,
    notes: &mut Vec<String>,
) -> &'static Encoding {
    let valid_utf8 = std::str::from_utf8(bytes).ok();
    match (claimed, valid_utf8) {
        (Some(claimed), Some(text)) if claimed != UTF_8 && !text.is_ascii() => {
            // Legacy single-byte text practically never forms valid multi-byte UTF-8.
            notes.push(format!(
                "declared {} but the bytes are UTF-8",
                claimed.name()
            ));
            UTF_8
        }
        (Some(claimed), _) if claimed != UTF_8 => claimed,
        (_, Some(_)) => UTF_8,
        (claimed, None) => {
            let detected = detect(bytes);
            let what = claimed.map_or("undeclared".to_owned(), |c| {
                format!("declared {}", c.name())
            });
            notes.push(format!(
                "{what} but not valid UTF-8; detected {}",
                detected.name()
            ));
            detected
        }
    }
}

/// Decodes `bytes`, given the `charset` parameter of the response's `Content-Type`, if any.
pub fn decode(bytes: &[u8], http_charset: Option<&str>) -> Decoded {
    let mut notes = Vec::new();
    if let Some((text, big_endian)) = utf32(bytes) {
        let order = if big_endian { "big" } else { "little" };
        notes.push(format!("UTF-32 ({order}-endian), read by hand"));
        return Decoded { text, notes };
    }
    if let Some((encoding, bom_length)) = Encoding::for_bom(bytes) {
        let (text, malformed) = encoding.decode_without_bom_handling(&bytes[bom_length..]);
        if malformed {
            notes.push(format!(
                "bytes that are not {} were replaced",
                encoding.name()
            ));
        }
        return Decoded {
            text: text.into_owned(),
            notes,
        };
    }
    if let Some(encoding) = utf16_by_shape(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        return Decoded {
            text: text.into_owned(),
            notes,
        };
    }
    let claimed = claimed_encoding(bytes, http_charset, &mut notes);
    let encoding = settled_encoding(bytes, claimed, &mut notes);
    let (text, malformed) = encoding.decode_without_bom_handling(bytes);
    if malformed {
        notes.push(format!(
            "bytes that are not {} were replaced",
            encoding.name()
        ));
    }
    Decoded {
        text: text.into_owned(),
        notes,
    }
}

fn detect(bytes: &[u8]) -> &'static Encoding {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(bytes, true);
    detector.guess(None, true)
}

/// Decodes UTF-32, which `encoding_rs` leaves out (the web never uses it), from its mark or the
/// shape of a leading `<`.
fn utf32(bytes: &[u8]) -> Option<(String, bool)> {
    let (body, big_endian) = match bytes {
        [0xFF, 0xFE, 0, 0, rest @ ..] => (rest, false),
        [0, 0, 0xFE, 0xFF, rest @ ..] => (rest, true),
        [b, 0, 0, 0, ..] if b.is_ascii() && *b != 0 => (bytes, false),
        [0, 0, 0, b, ..] if b.is_ascii() && *b != 0 => (bytes, true),
        _ => return None,
    };
    let text = body
        .chunks_exact(4)
        .map(|unit| {
            let array = [unit[0], unit[1], unit[2], unit[3]];
            let code = if big_endian {
                u32::from_be_bytes(array)
            } else {
                u32::from_le_bytes(array)
            };
            char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
        })
        .collect();
    Some((text, big_endian))
}

/// Detects UTF-16 without a mark: an XML document starts with ASCII, which UTF-16 pairs with a
/// zero.
fn utf16_by_shape(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [0, a, 0, b, ..] if *a != 0 && *b != 0 => Some(UTF_16BE),
        [a, 0, b, 0, ..] if *a != 0 && *b != 0 => Some(UTF_16LE),
        _ => None,
    }
}

/// Reads the `encoding` of an XML declaration at the start of ASCII-compatible bytes.
fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &bytes[start..bytes.len().min(start + 200)];
    let end = head.windows(2).position(|w| w == b"?>")?;
    let declaration = std::str::from_utf8(head.strip_prefix(b"<?xml")?.get(..end - 5)?).ok()?;
    let value = declaration
        .split("encoding")
        .nth(1)?
        .trim_start()
        .strip_prefix('=')?;
    let value = value.trim_start();
    let quote = value.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    value[1..].split(quote).next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declaration_is_followed_and_a_lie_is_overruled() {
        let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>caf\xe9</t>";
        let decoded = decode(latin1, None);
        assert!(decoded.text.ends_with("<t>caf\u{e9}</t>"));
        assert!(decoded.notes.is_empty());

        let utf8_lying = "<?xml version=\"1.0\" encoding=\"windows-1252\"?><t>café €</t>";
        let decoded = decode(utf8_lying.as_bytes(), None);
        assert_eq!(decoded.text, utf8_lying);
        assert!(
            decoded.notes[0].contains("are UTF-8"),
            "{:?}",
            decoded.notes
        );
    }

    #[test]
    fn the_http_charset_wins_over_the_declaration_and_a_bom_over_both() {
        let bytes = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><t>\xe9</t>";
        assert!(decode(bytes, Some("iso-8859-1"))
            .text
            .contains("<t>\u{e9}</t>"));
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice("<t>é</t>".as_bytes());
        assert_eq!(decode(&bom, Some("iso-8859-1")).text, "<t>é</t>");
    }

    #[test]
    fn undeclared_legacy_text_is_detected() {
        let cyrillic = "<t>Новости дня: главное за сегодня</t>";
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(cyrillic);
        let decoded = decode(&bytes, None);
        assert_eq!(decoded.text, cyrillic);
        assert!(
            decoded.notes[0].contains("windows-1251"),
            "{:?}",
            decoded.notes
        );
    }

    #[test]
    fn utf16_and_utf32_with_or_without_a_mark() {
        let text = "<rss>é</rss>";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(decode(&le, None).text, text);
        assert_eq!(decode(&be, None).text, text);
        let mut utf32 = vec![0xFF, 0xFE, 0, 0];
        utf32.extend(text.chars().flat_map(|c| (c as u32).to_le_bytes()));
        assert_eq!(decode(&utf32, None).text, text);
    }

    #[test]
    fn an_unknown_encoding_name_is_noted_and_survived() {
        let bytes = "<?xml version=\"1.0\" encoding=\"utf8-ish\"?><t>é</t>";
        let decoded = decode(bytes.as_bytes(), None);
        assert!(decoded.text.ends_with("<t>é</t>"));
        assert!(decoded.notes[0].contains("unknown encoding"));
    }
}
