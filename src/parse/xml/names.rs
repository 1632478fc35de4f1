//! What an element is, whatever prefix or namespace spells it: feeds bind the same vocabulary
//! to several namespace URIs (RSS 0.90, 1.0 and 2.0's own; Atom 0.3 and 1.0), use prefixes
//! they never declare, or declare none at all.

use quick_xml::name::ResolveResult;

/// The vocabularies tributary reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Rss,
    Atom,
    Dc,
    DcTerms,
    Content,
    Media,
    Itunes,
    Rdf,
    /// Anything else: its elements are skipped.
    Other,
}

/// Tells the family of an element or attribute as the reader resolved it. Elements with no
/// namespace belong to the document's own vocabulary: Atom's under `<feed>`, RSS's elsewhere.
pub fn family(resolved: &ResolveResult<'_>, atom_document: bool) -> Family {
    match resolved {
        ResolveResult::Bound(ns) => by_uri(ns.into_inner()),
        ResolveResult::Unbound if atom_document => Family::Atom,
        ResolveResult::Unbound => Family::Rss,
        ResolveResult::Unknown(prefix) => by_prefix(prefix),
    }
}

fn by_uri(uri: &str) -> Family {
    // Written with and without the trailing slash, and now and then over https.
    let uri = uri.trim_end_matches('/');
    let bare = uri
        .strip_prefix("http://")
        .or_else(|| uri.strip_prefix("https://"))
        .unwrap_or(uri);
    match bare {
        "www.w3.org/2005/Atom" | "purl.org/atom/ns#" => Family::Atom,
        "purl.org/dc/elements/1.1" | "purl.org/dc/elements/1.0" => Family::Dc,
        "purl.org/dc/terms" => Family::DcTerms,
        "purl.org/rss/1.0/modules/content" => Family::Content,
        "www.w3.org/1999/02/22-rdf-syntax-ns#" => Family::Rdf,
        "purl.org/rss/1.0"
        | "my.netscape.com/rdf/simple/0.9"
        | "channel.netscape.com/rdf/simple/0.9"
        | "backend.userland.com/rss2"
        | "backend.userland.com/rss" => Family::Rss,
        "search.yahoo.com/mrss" => Family::Media,
        uri if uri.eq_ignore_ascii_case("www.itunes.com/dtds/podcast-1.0.dtd") => Family::Itunes,
        _ => Family::Other,
    }
}

/// Reads a prefix used without a declaration as the one it conventionally stands for.
fn by_prefix(prefix: &str) -> Family {
    match prefix {
        "atom" | "atom03" | "atom10" => Family::Atom,
        "dc" => Family::Dc,
        "dcterms" => Family::DcTerms,
        "content" => Family::Content,
        "media" => Family::Media,
        "itunes" => Family::Itunes,
        "rdf" => Family::Rdf,
        _ => Family::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quick_xml::name::Namespace;

    #[test]
    fn one_vocabulary_under_its_many_names() {
        let bound = |uri: &'static str| family(&ResolveResult::Bound(Namespace(uri)), false);
        assert_eq!(bound("http://backend.userland.com/rss2"), Family::Rss);
        assert_eq!(bound("http://purl.org/atom/ns#"), Family::Atom);
        assert_eq!(bound("http://search.yahoo.com/mrss/"), Family::Media);
        assert_eq!(
            bound("http://purl.org/rss/1.0/modules/content"),
            Family::Content
        );
        assert_eq!(bound("https://www.w3.org/2005/Atom"), Family::Atom);
        assert_eq!(bound("http://example.com/own"), Family::Other);
        assert_eq!(family(&ResolveResult::Unbound, true), Family::Atom);
        assert_eq!(family(&ResolveResult::Unbound, false), Family::Rss);
        assert_eq!(
            family(&ResolveResult::Unknown("dc".into()), false),
            Family::Dc
        );
    }
}
