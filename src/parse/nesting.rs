//! How deep an HTML fragment nests, measured before it is sanitized: the sanitizer's tree
//! builder looks through the open elements at every tag, so its cost grows with the square of
//! the depth (100,000 nested `<div>`s took 37 s), while html5ever's tokenizer alone, used here,
//! reads any fragment in one linear pass. A fragment nested past [`MAX_DEPTH`] is kept as its
//! text rather than sanitized, which bounds what one item can cost every outlet.

use std::cell::{Cell, RefCell};

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use html5ever::{local_name, LocalName};

/// The deepest nesting of elements sanitized as HTML. Articles nest a few dozen deep; browsers
/// stop nesting at 512.
pub const MAX_DEPTH: usize = 256;

/// A fragment with fewer tags than this is sanitized without being measured: at most this many
/// tags cost the sanitizer milliseconds however they nest, and most summaries hold a handful.
const MEASURED_FROM_TAGS: usize = 1024;

/// Returns the depth of `html` when it nests past [`MAX_DEPTH`].
pub fn too_deep(html: &str) -> Option<usize> {
    let tags = html.bytes().filter(|&b| b == b'<').count();
    if tags < MEASURED_FROM_TAGS {
        return None;
    }
    let sink = Measure::default();
    run(html, &sink);
    let deepest = sink.deepest.get();
    (deepest > MAX_DEPTH).then_some(deepest)
}

/// Extracts the text of `html` without its markup, nor the contents of its scripts and styles; its
/// entities stay escaped, as the sanitizer leaves them.
pub fn text_of(html: &str) -> String {
    let sink = Measure {
        text: Some(RefCell::new(String::new())),
        ..Measure::default()
    };
    run(html, &sink);
    sink.text.map(RefCell::into_inner).unwrap_or_default()
}

fn run(html: &str, sink: &Measure) {
    let tokenizer = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    // With no scripts to run, the tokenizer never stops before the end of its input.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
}

/// The depth of open elements as tags come, and the text collected when asked.
#[derive(Default)]
struct Measure {
    depth: Cell<usize>,
    deepest: Cell<usize>,
    /// Inside a script or a style, whose characters are not text.
    in_raw: Cell<bool>,
    text: Option<RefCell<String>>,
}

impl TokenSink for &Measure {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            Token::TagToken(tag) => return self.tag(&tag),
            Token::CharacterTokens(characters) => {
                if let Some(text) = self.text.as_ref().filter(|_| !self.in_raw.get()) {
                    text.borrow_mut()
                        .push_str(&html_escape::encode_text(&characters));
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

impl Measure {
    fn tag(&self, tag: &Tag) -> TokenSinkResult<()> {
        if tag.self_closing || never_nests(&tag.name) {
            return TokenSinkResult::Continue;
        }
        match tag.kind {
            TagKind::StartTag => {
                let depth = self.depth.get() + 1;
                self.depth.set(depth);
                self.deepest.set(self.deepest.get().max(depth));
                // A script's or a style's contents are not markup, nor text a reader sees.
                if tag.name == local_name!("script") {
                    return self.raw(RawKind::ScriptData);
                }
                if tag.name == local_name!("style") {
                    return self.raw(RawKind::Rawtext);
                }
            }
            TagKind::EndTag => {
                self.depth.set(self.depth.get().saturating_sub(1));
                self.in_raw.set(false);
            }
        }
        TokenSinkResult::Continue
    }

    fn raw(&self, kind: RawKind) -> TokenSinkResult<()> {
        self.in_raw.set(true);
        TokenSinkResult::RawData(kind)
    }
}

/// Elements that hold nothing, or whose end tag may be left out (a list of `<p>`s without
/// `</p>` is flat, not deep): counting them would find depth where the tree has none.
fn never_nests(name: &LocalName) -> bool {
    matches!(
        *name,
        local_name!("area")
            | local_name!("base")
            | local_name!("br")
            | local_name!("col")
            | local_name!("embed")
            | local_name!("hr")
            | local_name!("img")
            | local_name!("input")
            | local_name!("link")
            | local_name!("meta")
            | local_name!("source")
            | local_name!("track")
            | local_name!("wbr")
            | local_name!("p")
            | local_name!("li")
            | local_name!("dt")
            | local_name!("dd")
            | local_name!("option")
            | local_name!("tr")
            | local_name!("td")
            | local_name!("th")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        "<div>".repeat(depth) + "deep text" + &"</div>".repeat(depth)
    }

    #[test]
    fn a_fragment_nested_past_the_limit_is_found_and_its_text_kept() {
        assert_eq!(too_deep(&nested(100_000)), Some(100_000));
        assert_eq!(text_of(&nested(100_000)), "deep text");
    }

    #[test]
    fn wide_flat_or_small_fragments_are_not_too_deep() {
        // 1,000 tags cost the sanitizer little however deep.
        assert_eq!(too_deep(&nested(500)), None);
        assert_eq!(too_deep(&"<p>para<br>line".repeat(5000)), None);
        assert_eq!(too_deep(&"<div><b>x</b></div>".repeat(5000)), None);
        let padded = |depth| nested(depth) + &"<br>".repeat(MEASURED_FROM_TAGS);
        assert_eq!(too_deep(&padded(MAX_DEPTH)), None);
        assert_eq!(too_deep(&padded(MAX_DEPTH + 1)), Some(MAX_DEPTH + 1));
    }

    #[test]
    fn scripts_and_styles_are_neither_text_nor_depth() {
        let html = format!(
            "{}<script>if (a<b) {{ x = '<div>'; }}</script><style>p{{}}</style> &amp; after",
            "<br>".repeat(2000)
        );
        assert_eq!(too_deep(&html), None);
        assert_eq!(text_of(&html), " &amp; after");
    }
}
