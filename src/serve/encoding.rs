//! Content coding (RFC 9110 §12.5.3): gzip or Brotli by the reader's `Accept-Encoding`.
//! The published feeds are compressed once per change, so a request costs no compression.

use std::io::Write;

use axum::body::Bytes;
use axum::http::{header, HeaderMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// Every coding, in the order of their discriminants (`encoding as usize` indexes it).
    pub const ALL: [Encoding; 3] = [Encoding::Identity, Encoding::Gzip, Encoding::Brotli];

    /// Picks the coding the reader prefers among those it accepts: Brotli before gzip at equal
    /// weight (it is smaller), identity when it accepts neither.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let Some(accept) = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
        else {
            return Encoding::Identity;
        };
        let mut weights: Vec<(String, f32)> = Vec::new();
        for part in accept.split(',') {
            let mut pieces = part.split(';');
            let coding = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let weight = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if !coding.is_empty() {
                weights.push((coding, weight));
            }
        }
        let weight_of = |coding: &str| {
            let named = weights.iter().find(|(c, _)| c == coding);
            let any = weights.iter().find(|(c, _)| c == "*");
            named.or(any).map_or(0.0, |(_, w)| *w)
        };
        let (br, gzip) = (weight_of("br"), weight_of("gzip").max(weight_of("x-gzip")));
        match (br, gzip) {
            (b, g) if b > 0.0 && b >= g => Encoding::Brotli,
            (_, g) if g > 0.0 => Encoding::Gzip,
            _ => Encoding::Identity,
        }
    }

    /// Returns the `Content-Encoding` value; `None` for identity.
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    /// Derives this coding's ETag from `etag`: each coding of a representation is a representation
    /// of its own with its own ETag.
    pub fn etag(self, etag: &str) -> String {
        match self.header_value() {
            None => etag.to_owned(),
            Some(coding) => format!("{}-{coding}\"", etag.trim_end_matches('"')),
        }
    }

    pub fn encode(self, body: &[u8]) -> Bytes {
        match self {
            Encoding::Identity => Bytes::copy_from_slice(body),
            Encoding::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
                // Writing to memory cannot fail.
                let _ = gz.write_all(body);
                Bytes::from(gz.finish().unwrap_or_default())
            }
            Encoding::Brotli => {
                let mut out = Vec::new();
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 6,
                    ..Default::default()
                };
                let _ = brotli::BrotliCompress(&mut &body[..], &mut out, &params);
                Bytes::from(out)
            }
        }
    }
}

/// A document in every coding a reader may ask for.
#[derive(Clone)]
pub struct Encoded {
    identity: Bytes,
    gzip: Bytes,
    brotli: Bytes,
}

impl Encoded {
    pub fn new(body: Vec<u8>) -> Self {
        Self {
            gzip: Encoding::Gzip.encode(&body),
            brotli: Encoding::Brotli.encode(&body),
            identity: Bytes::from(body),
        }
    }

    pub fn get(&self, encoding: Encoding) -> Bytes {
        match encoding {
            Encoding::Identity => self.identity.clone(),
            Encoding::Gzip => self.gzip.clone(),
            Encoding::Brotli => self.brotli.clone(),
        }
    }

    pub fn identity(&self) -> &Bytes {
        &self.identity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn accepting(value: &str) -> Encoding {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, value.parse().unwrap());
        Encoding::negotiate(&headers)
    }

    #[test]
    fn the_reader_s_weights_decide() {
        assert_eq!(Encoding::negotiate(&HeaderMap::new()), Encoding::Identity);
        assert_eq!(accepting("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(accepting("gzip"), Encoding::Gzip);
        assert_eq!(accepting("br;q=0.5, gzip"), Encoding::Gzip);
        assert_eq!(accepting("br;q=0, gzip;q=0"), Encoding::Identity);
        assert_eq!(accepting("*"), Encoding::Brotli);
        assert_eq!(accepting("*;q=0.3, br;q=0"), Encoding::Gzip);
        assert_eq!(accepting("identity"), Encoding::Identity);
        assert_eq!(accepting("GZIP;Q=0.9"), Encoding::Gzip);
    }

    #[test]
    fn each_coding_decodes_to_the_document() {
        let body = "<rss>ünïcode 📰</rss>".repeat(50).into_bytes();
        let encoded = Encoded::new(body.clone());
        let mut gunzipped = Vec::new();
        flate2::read::GzDecoder::new(&encoded.get(Encoding::Gzip)[..])
            .read_to_end(&mut gunzipped)
            .unwrap();
        assert_eq!(gunzipped, body);
        let mut unbrotlied = Vec::new();
        brotli::BrotliDecompress(&mut &encoded.get(Encoding::Brotli)[..], &mut unbrotlied).unwrap();
        assert_eq!(unbrotlied, body);
        assert!(encoded.get(Encoding::Brotli).len() < body.len() / 10);
        assert_eq!(Encoding::Gzip.etag("\"abc\""), "\"abc-gzip\"");
    }
}
