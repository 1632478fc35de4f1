//! Dates as feeds write them: RFC 3339 and its ISO 8601 cousins, RFC 822 with any zone name,
//! two-digit years, month names in a few languages, Unix timestamps. Everything comes out in
//! UTC and to the second (no feed means a fraction, and one spelling keeps output stable); a
//! date-time without a zone is taken as UTC.

use chrono::{
    DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SubsecRound, TimeZone, Utc,
};

/// Parses `text` as a date, or `None` when nothing sensible can be read from it.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    unix_timestamp(text)
        .or_else(|| iso8601(text))
        .or_else(|| rfc822_like(text))
        .map(|date| date.trunc_subsecs(0))
}

/// Reads a bare count of seconds since 1970 (some `dc:date`s), 9 or 10 digits: anything shorter is
/// more likely a year or garbage.
fn unix_timestamp(text: &str) -> Option<DateTime<Utc>> {
    if !(9..=10).contains(&text.len()) || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    DateTime::from_timestamp(text.parse().ok()?, 0)
}

fn iso8601(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.to_utc());
    }
    let starts_like_a_date = text.len() >= 8 && text.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    if !starts_like_a_date {
        return None;
    }
    let normalized = text.replacen(' ', "T", 1).replace('/', "-");
    let zoned = normalized
        .strip_suffix('Z')
        .map(|t| format!("{t}+00:00"))
        .unwrap_or_else(|| normalized.clone());
    const ZONED: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%dT%H:%M%z",
    ];
    for format in ZONED {
        if let Ok(date) = DateTime::parse_from_str(&zoned, format) {
            return Some(date.to_utc());
        }
    }
    const NAIVE: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y%m%dT%H%M%S",
        "%Y-%m-%dT%H:%M:%S",
    ];
    for format in NAIVE {
        if let Ok(date) = NaiveDateTime::parse_from_str(&normalized, format) {
            return Some(date.and_utc());
        }
    }
    ["%Y-%m-%d", "%Y%m%d"]
        .iter()
        .find_map(|format| NaiveDate::parse_from_str(&normalized, format).ok())
        .map(|date| date.and_time(NaiveTime::MIN).and_utc())
}

/// Parses RFC 822 and the many ways feeds get it wrong: read token by token, so that a wrong or
/// foreign weekday, a missing comma, a two-digit year, `1500` for `15:00`, `PM` or a zone name
/// such as AEST does not lose the date.
fn rfc822_like(text: &str) -> Option<DateTime<Utc>> {
    // Most feeds write RFC 822 as the spec says; the tolerant reading below is for the rest.
    if let Ok(date) = DateTime::parse_from_rfc2822(text) {
        return Some(date.to_utc());
    }
    let (mut day, mut month, mut year) = (None, None, None);
    let (mut time, mut offset, mut afternoon) = (None, None, None);
    let tokens: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    // A first token that reads as a month while another month follows is a weekday ("mar."
    // is Tuesday in Spanish and French, "Mar" March in English).
    let months = tokens.iter().filter(|t| month_number(t).is_some()).count();
    let skip_first = months > 1 && tokens.first().is_some_and(|t| month_number(t).is_some());
    for token in tokens.into_iter().skip(usize::from(skip_first)) {
        if let Some(m) = month_number(token) {
            month.get_or_insert(m);
        } else if let Some(pm) = meridiem(token) {
            afternoon = Some(pm);
        } else if let Some(zone) = zone_offset(token) {
            offset = Some(zone);
        } else if token.contains(':') {
            time = clock(token);
        } else if let Ok(n) = token.parse::<u32>() {
            match (day, month, year) {
                (None, _, _) if (1..=31).contains(&n) && token.len() <= 2 => day = Some(n),
                (_, _, None) if token.len() == 4 || (token.len() == 2 && day.is_some()) => {
                    year = Some(full_year(n, token.len()))
                }
                _ if token.len() == 4 && time.is_none() => time = clock_hhmm(n),
                _ => return None,
            }
        }
        // Anything else (a weekday in any language, "at") carries no date.
    }
    let mut time = time.unwrap_or(NaiveTime::MIN);
    if let Some(pm) = afternoon {
        time = twelve_hour(time, pm)?;
    }
    let date = NaiveDate::from_ymd_opt(year? as i32, month?, day?)?;
    let offset = offset.unwrap_or(FixedOffset::east_opt(0)?);
    let local = offset.from_local_datetime(&date.and_time(time)).single()?;
    Some(local.to_utc())
}

fn full_year(n: u32, digits: usize) -> u32 {
    match (digits, n) {
        (2, 0..=49) => 2000 + n,
        (2, _) => 1900 + n,
        _ => n,
    }
}

fn clock(token: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(token, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(token, "%H:%M"))
        .ok()
}

fn clock_hhmm(n: u32) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(n / 100, n % 100, 0)
}

fn meridiem(token: &str) -> Option<bool> {
    match token.to_ascii_uppercase().as_str() {
        "AM" | "A.M." => Some(false),
        "PM" | "P.M." => Some(true),
        _ => None,
    }
}

fn twelve_hour(time: NaiveTime, afternoon: bool) -> Option<NaiveTime> {
    use chrono::Timelike;
    let hour = match (time.hour(), afternoon) {
        (12, false) => 0,
        (h, true) if h < 12 => h + 12,
        (h, _) => h,
    };
    time.with_hour(hour)
}

/// Reads a month's number from English month names and abbreviations, and the abbreviations of the
/// other languages seen in feeds (Portuguese, Spanish, French, German, Italian, Dutch).
fn month_number(token: &str) -> Option<u32> {
    let lower = token.trim_end_matches('.').to_lowercase();
    let prefix: String = lower.chars().take(3).collect();
    let english = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    if lower.chars().count() >= 3 && lower.chars().all(char::is_alphabetic) {
        if let Some(i) = english.iter().position(|m| *m == prefix) {
            return Some(i as u32 + 1);
        }
    }
    let foreign: &[(&str, u32)] = &[
        ("fev", 2),
        ("fév", 2),
        ("mär", 3),
        ("mrz", 3),
        ("abr", 4),
        ("avr", 4),
        ("mai", 5),
        ("mag", 5),
        ("mei", 5),
        ("juin", 6),
        ("giu", 6),
        ("juil", 7),
        ("lug", 7),
        ("ago", 8),
        ("aoû", 8),
        ("set", 9),
        ("out", 10),
        ("okt", 10),
        ("ott", 10),
        ("dez", 12),
        ("dic", 12),
        ("déc", 12),
        ("ene", 1),
        ("gen", 1),
        ("janv", 1),
        ("févr", 2),
    ];
    foreign
        .iter()
        .find(|(name, _)| *name == lower || (name.chars().count() == 3 && *name == prefix))
        .map(|(_, month)| *month)
}

/// Reads a numeric offset (`+1000`, `-05:00`) or a zone name, including the Australian ones that
/// RFC 822 never knew.
fn zone_offset(token: &str) -> Option<FixedOffset> {
    if let Some(sign) = token.strip_prefix(['+', '-']).map(|_| &token[..1]) {
        let digits: String = token[1..].chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let minutes = digits[..2].parse::<i32>().ok()? * 60 + digits[2..].parse::<i32>().ok()?;
        let seconds = if sign == "-" { -minutes } else { minutes } * 60;
        return FixedOffset::east_opt(seconds);
    }
    let hours: f32 = match token.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" => 0.0,
        "EST" => -5.0,
        "EDT" | "AST" => -4.0,
        "CST" => -6.0,
        "CDT" => -5.0,
        "MST" => -7.0,
        "MDT" => -6.0,
        "PST" => -8.0,
        "PDT" => -7.0,
        "AKST" => -9.0,
        "HST" => -10.0,
        "BST" | "CET" | "WEST" => 1.0,
        "CEST" | "EET" | "SAST" => 2.0,
        "EEST" | "MSK" => 3.0,
        "AWST" | "SGT" | "HKT" => 8.0,
        "JST" | "KST" => 9.0,
        "ACST" => 9.5,
        "AEST" => 10.0,
        "ACDT" => 10.5,
        "AEDT" => 11.0,
        "NZST" => 12.0,
        "NZDT" => 13.0,
        _ => return None,
    };
    FixedOffset::east_opt((hours * 3600.0) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> String {
        parse_date(text)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_else(|| format!("unparsed: {text}"))
    }

    #[test]
    fn every_shape_of_date_seen_in_the_corpus() {
        let cases = [
            ("Tue, 23 May 2017 13:36:04 +1000", "2017-05-23T03:36:04Z"),
            (
                "  Sat, 03 Jun 2017 15:15:44 -0500  ",
                "2017-06-03T20:15:44Z",
            ),
            ("Wed, 8 Jun 2005 19:00:00 GMT", "2005-06-08T19:00:00Z"),
            ("Tue, 15 Nov 2022 20:15:04 Z", "2022-11-15T20:15:04Z"),
            ("Tue, 11 Jul 2017 07:06:00 AEST", "2017-07-10T21:06:00Z"),
            ("Sun, 10 Dec 2017 07:06:00 AEDT", "2017-12-09T20:06:00Z"),
            ("Mon, 06 Sep 2010 00:01:00 EST", "2010-09-06T05:01:00Z"),
            ("03 Apr 02 1500 GMT", "2002-04-03T15:00:00Z"),
            ("Thu, 01 Jan 98 00:00:00 GMT", "1998-01-01T00:00:00Z"),
            ("Seg, 24 Set 2018 19:18:49 -0300", "2018-09-24T22:18:49Z"),
            ("mar., 16 oct. 2017 10:00:00 +0200", "2017-10-16T08:00:00Z"),
            ("Sat, Dec 16 2023 02:02:33 PM", "2023-12-16T14:02:33Z"),
            ("2003-12-13T18:30:02Z", "2003-12-13T18:30:02Z"),
            ("2019-10-12T07:20:50.52Z", "2019-10-12T07:20:50Z"),
            ("2020-01-02T14:00:00-07:00", "2020-01-02T21:00:00Z"),
            ("2003-12-13T18:30+01:00", "2003-12-13T17:30:00Z"),
            ("2018-09-17 11:19:42", "2018-09-17T11:19:42Z"),
            ("2020/1/10 14:03:00", "2020-01-10T14:03:00Z"),
            ("2019-08-14", "2019-08-14T00:00:00Z"),
            ("20031213T183002", "2003-12-13T18:30:02Z"),
            ("1518478934", "2018-02-12T23:42:14Z"),
        ];
        for (text, expected) in cases {
            assert_eq!(utc(text), expected, "{text}");
        }
    }

    #[test]
    fn nonsense_is_not_a_date() {
        for text in [
            "",
            "soon",
            "32 Foo 2019",
            "12345",
            "Tue, 99 Jan 2019 00:00:00 GMT",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }
}
