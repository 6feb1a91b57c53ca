//! Conditional and range requests (RFC 9110 §13 and §14), decided without I/O: the request's
//! `Range`, `If-Range`, `If-None-Match` and `If-Modified-Since` plus the file's validators
//! become one [`Decision`].
//!
//! # Choices the RFC leaves to the server
//! - A `Range` header that is not valid `bytes=` syntax, or names another unit, is ignored
//!   (§14.2): the whole file is sent with 200. So is an `int-range` whose last position is before
//!   its first (`bytes=5-1`), which §14.1.1 calls invalid.
//! - At most [`MAX_RANGES`] range specs are honoured. A header with more is ignored and the whole
//!   file is sent with 200: §14.2 lets a server ignore `Range`, and 200 is a correct answer to
//!   any GET, whereas 416 would claim that satisfiable ranges are not. Parsing stops at the cap,
//!   so a hostile header costs no more than a legitimate one.
//! - Overlapping and adjacent ranges are merged and sent in ascending order (§14.2 allows
//!   coalescing "regardless of the order" requested); when one range remains, the answer is a
//!   single-part 206.
//! - Positions too large for a `u64` saturate: a first position past the end is unsatisfiable,
//!   a last position past the end is clamped to it, a suffix longer than the file is the whole
//!   file.

use std::time::{Duration, SystemTime};

/// The most range specs a `Range` header may hold before it is ignored.
pub const MAX_RANGES: usize = 16;

/// One satisfiable byte range, both ends inclusive and inside the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub first: u64,
    /// Last byte (inclusive).
    pub last: u64,
}

impl ByteRange {
    /// Number of bytes in the range.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: a range holds at least one byte. Here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The validators of the file being served.
#[derive(Debug, Clone)]
pub struct Validators {
    /// The strong entity tag, quotes included (`"abc"`).
    pub etag: String,
    /// Modification time, truncated to whole seconds as HTTP dates are.
    pub last_modified: SystemTime,
    /// Whether `last_modified` may be used as a strong validator: RFC 9110 §8.8.2.2 only
    /// allows it when the file is at least a second older than the response.
    pub last_modified_is_strong: bool,
}

/// The request headers that affect the answer, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conditions<'a> {
    /// `Range`.
    pub range: Option<&'a str>,
    /// `If-Range`.
    pub if_range: Option<&'a str>,
    /// `If-None-Match`.
    pub if_none_match: Option<&'a str>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<&'a str>,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 304: the client's copy is current.
    NotModified,
    /// 200: the whole file.
    Full,
    /// 206 with one `Content-Range`.
    Single(ByteRange),
    /// 206 `multipart/byteranges`: two or more disjoint ranges in ascending order.
    Multi(Vec<ByteRange>),
    /// 416: none of the ranges overlaps the file.
    Unsatisfiable,
}

/// A range spec as written, before the file's length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last` or `first-` (`last` is `None`).
    From { first: u64, last: Option<u64> },
    /// `-n`: the last `n` bytes.
    Suffix(u64),
}

/// Why a `Range` header is ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ignored {
    /// Not `bytes=` syntax, another unit, or an invalid range spec.
    Syntax,
    /// More than [`MAX_RANGES`] specs.
    TooMany,
}

/// Decimal digits, saturating at `u64::MAX` (see the module notes); `None` unless the input is
/// one or more ASCII digits.
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

fn parse_spec(s: &str) -> Option<Spec> {
    let (first, last) = s.split_once('-')?;
    if first.is_empty() {
        return digits(last).map(Spec::Suffix);
    }
    let first = digits(first)?;
    if last.is_empty() {
        return Some(Spec::From { first, last: None });
    }
    let last = digits(last)?;
    // §14.1.1: an int-range whose last position is before its first is invalid.
    (last >= first).then_some(Spec::From {
        first,
        last: Some(last),
    })
}

/// Parses `bytes=<range-set>`. Empty list elements are skipped, as §5.6.1 asks of recipients.
fn parse_range(header: &str) -> Result<Vec<Spec>, Ignored> {
    let (unit, set) = header.trim().split_once('=').ok_or(Ignored::Syntax)?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return Err(Ignored::Syntax);
    }
    let mut specs = Vec::new();
    for element in set.split(',') {
        let element = element.trim_matches([' ', '\t']);
        if element.is_empty() {
            continue;
        }
        if specs.len() == MAX_RANGES {
            return Err(Ignored::TooMany);
        }
        specs.push(parse_spec(element).ok_or(Ignored::Syntax)?);
    }
    if specs.is_empty() {
        return Err(Ignored::Syntax);
    }
    Ok(specs)
}

/// The part of `spec` inside a file of `len` bytes; `None` when it is unsatisfiable.
fn resolve(spec: Spec, len: u64) -> Option<ByteRange> {
    match spec {
        Spec::From { first, last } => (first < len).then(|| ByteRange {
            first,
            last: last.map_or(len - 1, |l| l.min(len - 1)),
        }),
        // §14.1.1: a suffix range is satisfiable only with a non-zero length.
        Spec::Suffix(n) => (n > 0 && len > 0).then(|| ByteRange {
            first: len - n.min(len),
            last: len - 1,
        }),
    }
}

/// Sorts and merges overlapping or adjacent ranges.
fn coalesce(mut ranges: Vec<ByteRange>) -> Vec<ByteRange> {
    ranges.sort_unstable_by_key(|r| (r.first, r.last));
    let mut out: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            // `last + 1` cannot overflow: `last` is below the file length, itself a u64.
            Some(prev) if r.first <= prev.last + 1 => prev.last = prev.last.max(r.last),
            _ => out.push(r),
        }
    }
    out
}

/// A quoted entity tag, with its weakness.
fn entity_tags(list: &str) -> impl Iterator<Item = (bool, &str)> {
    list.split(',').filter_map(|t| {
        let t = t.trim();
        let (weak, opaque) = match t.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        (opaque.len() >= 2 && opaque.starts_with('"') && opaque.ends_with('"'))
            .then_some((weak, opaque))
    })
}

/// `If-None-Match` uses the weak comparison (§13.1.2): the opaque tags are compared, weakness
/// ignored.
fn none_match_hits(header: &str, etag: &str) -> bool {
    header.trim() == "*" || entity_tags(header).any(|(_, tag)| tag == etag)
}

fn http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

/// `If-Range` (§13.1.5): an entity tag matches by strong comparison, so a weak tag never
/// does; a date matches only when it is exactly the (strong) modification time.
fn if_range_holds(header: &str, v: &Validators) -> bool {
    let header = header.trim();
    if header.starts_with('"') || header.starts_with("W/") {
        return !header.starts_with("W/") && header == v.etag;
    }
    match http_date(header) {
        Some(date) => v.last_modified_is_strong && date == v.last_modified,
        None => false,
    }
}

/// Decides the answer to a GET or HEAD of a file of `len` bytes.
///
/// Order as in RFC 9110 §13.2.2: `If-None-Match` (or, only when it is absent,
/// `If-Modified-Since`) may answer 304; then `If-Range` decides whether `Range` is honoured.
pub fn decide(c: &Conditions<'_>, v: &Validators, len: u64) -> Decision {
    match (c.if_none_match, c.if_modified_since) {
        (Some(inm), _) => {
            if none_match_hits(inm, &v.etag) {
                return Decision::NotModified;
            }
        }
        (None, Some(ims)) => {
            // An unparsable date is ignored (§13.1.3).
            if http_date(ims).is_some_and(|since| v.last_modified <= since) {
                return Decision::NotModified;
            }
        }
        (None, None) => {}
    }
    let Some(range) = c.range else {
        return Decision::Full;
    };
    if c.if_range.is_some_and(|ir| !if_range_holds(ir, v)) {
        return Decision::Full;
    }
    let Ok(specs) = parse_range(range) else {
        return Decision::Full;
    };
    let satisfiable: Vec<ByteRange> = specs.into_iter().filter_map(|s| resolve(s, len)).collect();
    let mut ranges = coalesce(satisfiable);
    match ranges.len() {
        0 => Decision::Unsatisfiable,
        1 => Decision::Single(ranges.remove(0)),
        _ => Decision::Multi(ranges),
    }
}

/// `t` truncated to whole seconds, as an HTTP date carries it.
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => SystemTime::UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LEN: u64 = 10_000;

    fn validators() -> Validators {
        Validators {
            etag: "\"abc\"".into(),
            last_modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            last_modified_is_strong: true,
        }
    }

    fn range(h: &str) -> Decision {
        decide(
            &Conditions {
                range: Some(h),
                ..Conditions::default()
            },
            &validators(),
            LEN,
        )
    }

    fn r(first: u64, last: u64) -> ByteRange {
        ByteRange { first, last }
    }

    #[test]
    fn every_single_range_form() {
        assert_eq!(range("bytes=100-299"), Decision::Single(r(100, 299)));
        assert_eq!(range("bytes=100-"), Decision::Single(r(100, LEN - 1)));
        assert_eq!(range("bytes=-500"), Decision::Single(r(LEN - 500, LEN - 1)));
        assert_eq!(range("bytes=0-0"), Decision::Single(r(0, 0)));
        assert_eq!(range("bytes=9999-9999"), Decision::Single(r(9999, 9999)));
        // Unit names are case-insensitive; list whitespace and empty elements are tolerated.
        assert_eq!(range("Bytes=1-2"), Decision::Single(r(1, 2)));
        assert_eq!(range("bytes= 1-2 ,"), Decision::Single(r(1, 2)));
    }

    #[test]
    fn ends_past_the_file_are_clamped_and_starts_past_it_unsatisfiable() {
        assert_eq!(
            range("bytes=9000-20000"),
            Decision::Single(r(9000, LEN - 1))
        );
        assert_eq!(range("bytes=-20000"), Decision::Single(r(0, LEN - 1)));
        assert_eq!(range("bytes=10000-"), Decision::Unsatisfiable);
        assert_eq!(range("bytes=10000-10005"), Decision::Unsatisfiable);
        assert_eq!(range("bytes=-0"), Decision::Unsatisfiable);
    }

    #[test]
    fn numbers_beyond_u64_saturate() {
        let huge = "99999999999999999999999999999";
        assert_eq!(range(&format!("bytes={huge}-")), Decision::Unsatisfiable);
        assert_eq!(
            range(&format!("bytes=5-{huge}")),
            Decision::Single(r(5, LEN - 1))
        );
        assert_eq!(
            range(&format!("bytes=-{huge}")),
            Decision::Single(r(0, LEN - 1))
        );
        assert_eq!(
            range(&format!("bytes={huge}-{huge}")),
            Decision::Unsatisfiable
        );
    }

    #[test]
    fn invalid_syntax_is_ignored() {
        for h in [
            "bytes=5-1",
            "bytes=",
            "bytes=,",
            "bytes=-",
            "bytes=a-b",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=1 -2",
            "bytes=0x10-",
            "bytes 1-2",
            "items=1-2",
            "bytes=1-2,5-1",
            "bytes=--1",
            "",
            "=",
        ] {
            assert_eq!(range(h), Decision::Full, "{h:?}");
        }
    }

    #[test]
    fn several_ranges_are_merged_and_sorted() {
        assert_eq!(
            range("bytes=0-9,20-29"),
            Decision::Multi(vec![r(0, 9), r(20, 29)])
        );
        assert_eq!(
            range("bytes=20-29,0-9"),
            Decision::Multi(vec![r(0, 9), r(20, 29)])
        );
        // Overlapping and adjacent ranges become one.
        assert_eq!(range("bytes=0-9,5-14"), Decision::Single(r(0, 14)));
        assert_eq!(range("bytes=0-9,10-19"), Decision::Single(r(0, 19)));
        assert_eq!(range("bytes=0-0,0-0,0-0"), Decision::Single(r(0, 0)));
        assert_eq!(
            range("bytes=-100,0-99"),
            Decision::Multi(vec![r(0, 99), r(LEN - 100, LEN - 1)])
        );
        // Unsatisfiable members are dropped when another one is satisfiable.
        assert_eq!(range("bytes=20000-,0-1"), Decision::Single(r(0, 1)));
        assert_eq!(range("bytes=20000-,-0"), Decision::Unsatisfiable);
    }

    #[test]
    fn more_ranges_than_the_cap_are_ignored() {
        let at_cap = vec!["0-0"; MAX_RANGES].join(",");
        assert_eq!(range(&format!("bytes={at_cap}")), Decision::Single(r(0, 0)));
        let over = vec!["0-0"; MAX_RANGES + 1].join(",");
        assert_eq!(range(&format!("bytes={over}")), Decision::Full);
        let hostile = (0..10_000)
            .map(|i| format!("{}-{}", i * 2, i * 2))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(range(&format!("bytes={hostile}")), Decision::Full);
    }

    #[test]
    fn an_empty_file_satisfies_no_range() {
        let d = |h: &str| {
            decide(
                &Conditions {
                    range: Some(h),
                    ..Conditions::default()
                },
                &validators(),
                0,
            )
        };
        assert_eq!(d("bytes=0-"), Decision::Unsatisfiable);
        assert_eq!(d("bytes=-5"), Decision::Unsatisfiable);
        assert_eq!(d("bytes=5-1"), Decision::Full);
    }

    fn with(c: Conditions<'_>) -> Decision {
        decide(&c, &validators(), LEN)
    }

    const DATE: &str = "Tue, 14 Nov 2023 22:13:20 GMT"; // 1_700_000_000
    const EARLIER: &str = "Tue, 14 Nov 2023 22:13:19 GMT";
    const LATER: &str = "Tue, 14 Nov 2023 22:13:21 GMT";

    #[test]
    fn if_none_match_answers_304_and_wins_over_if_modified_since() {
        let inm = |h| {
            with(Conditions {
                if_none_match: Some(h),
                range: Some("bytes=0-1"),
                ..Conditions::default()
            })
        };
        assert_eq!(inm("\"abc\""), Decision::NotModified);
        assert_eq!(inm("W/\"abc\""), Decision::NotModified);
        assert_eq!(inm("\"x\", \"abc\""), Decision::NotModified);
        assert_eq!(inm("*"), Decision::NotModified);
        assert_eq!(inm("\"x\""), Decision::Single(r(0, 1)));
        assert_eq!(inm("abc"), Decision::Single(r(0, 1)));
        // A non-matching If-None-Match means If-Modified-Since is not consulted.
        assert_eq!(
            with(Conditions {
                if_none_match: Some("\"x\""),
                if_modified_since: Some(LATER),
                ..Conditions::default()
            }),
            Decision::Full
        );
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let ims = |h| {
            with(Conditions {
                if_modified_since: Some(h),
                ..Conditions::default()
            })
        };
        assert_eq!(ims(DATE), Decision::NotModified);
        assert_eq!(ims(LATER), Decision::NotModified);
        assert_eq!(ims(EARLIER), Decision::Full);
        assert_eq!(ims("yesterday"), Decision::Full);
        // The obsolete date forms are accepted too.
        assert_eq!(
            ims("Tuesday, 14-Nov-23 22:13:20 GMT"),
            Decision::NotModified
        );
    }

    #[test]
    fn if_range_with_etag_or_date() {
        let ir = |h| {
            with(Conditions {
                range: Some("bytes=5-9"),
                if_range: Some(h),
                ..Conditions::default()
            })
        };
        assert_eq!(ir("\"abc\""), Decision::Single(r(5, 9)));
        assert_eq!(ir("\"old\""), Decision::Full);
        // Strong comparison: a weak tag never matches.
        assert_eq!(ir("W/\"abc\""), Decision::Full);
        assert_eq!(ir(DATE), Decision::Single(r(5, 9)));
        assert_eq!(ir(LATER), Decision::Full);
        assert_eq!(ir(EARLIER), Decision::Full);
        assert_eq!(ir("garbage"), Decision::Full);
        // Without Range, If-Range is ignored.
        assert_eq!(
            with(Conditions {
                if_range: Some("\"old\""),
                ..Conditions::default()
            }),
            Decision::Full
        );
        // A modification time that is not yet a second old is weak: dates never match it.
        let mut v = validators();
        v.last_modified_is_strong = false;
        let c = Conditions {
            range: Some("bytes=5-9"),
            if_range: Some(DATE),
            ..Conditions::default()
        };
        assert_eq!(decide(&c, &v, LEN), Decision::Full);
    }

    proptest! {
        /// Whatever the header, the decision is well formed: ranges inside the file, disjoint,
        /// non-adjacent, ascending, at most the cap.
        #[test]
        fn any_header_gives_a_well_formed_decision(h in ".{0,200}", len in 0u64..100_000) {
            let d = decide(&Conditions { range: Some(&h), ..Conditions::default() }, &validators(), len);
            check(&d, len);
        }

        #[test]
        fn range_lists_give_well_formed_decisions(
            specs in proptest::collection::vec((proptest::option::of(0u64..12_000), proptest::option::of(0u64..12_000)), 1..20),
            len in 0u64..11_000,
        ) {
            let h = format!("bytes={}", specs.iter().map(|(a, b)| format!(
                "{}-{}", a.map(|a| a.to_string()).unwrap_or_default(), b.map(|b| b.to_string()).unwrap_or_default()
            )).collect::<Vec<_>>().join(","));
            let d = decide(&Conditions { range: Some(&h), ..Conditions::default() }, &validators(), len);
            check(&d, len);
            // Every byte a satisfiable spec asks for is served, and nothing else.
            if let Decision::Single(_) | Decision::Multi(_) = d {
                let served: Vec<ByteRange> = match &d {
                    Decision::Single(r) => vec![*r],
                    Decision::Multi(rs) => rs.clone(),
                    _ => unreachable!(),
                };
                let wanted: Vec<ByteRange> = parse_range(&h).unwrap().into_iter().filter_map(|s| resolve(s, len)).collect();
                for b in (0..len).step_by(97) {
                    let in_served = served.iter().any(|r| r.first <= b && b <= r.last);
                    let in_wanted = wanted.iter().any(|r| r.first <= b && b <= r.last);
                    prop_assert_eq!(in_served, in_wanted, "byte {}", b);
                }
            }
        }

        #[test]
        fn single_int_ranges_are_exact(first in 0u64..20_000, last in 0u64..20_000, len in 1u64..10_000) {
            let d = range_with_len(&format!("bytes={first}-{last}"), len);
            let expected = if last < first {
                Decision::Full
            } else if first >= len {
                Decision::Unsatisfiable
            } else {
                Decision::Single(r(first, last.min(len - 1)))
            };
            prop_assert_eq!(d, expected);
        }

        #[test]
        fn suffix_ranges_are_exact(n in 0u64..20_000, len in 0u64..10_000) {
            let d = range_with_len(&format!("bytes=-{n}"), len);
            let expected = if n == 0 || len == 0 {
                Decision::Unsatisfiable
            } else {
                Decision::Single(r(len - n.min(len), len - 1))
            };
            prop_assert_eq!(d, expected);
        }
    }

    fn range_with_len(h: &str, len: u64) -> Decision {
        decide(
            &Conditions {
                range: Some(h),
                ..Conditions::default()
            },
            &validators(),
            len,
        )
    }

    fn check(d: &Decision, len: u64) {
        let ranges = match d {
            Decision::Single(r) => vec![*r],
            Decision::Multi(rs) => {
                assert!(rs.len() >= 2 && rs.len() <= MAX_RANGES);
                rs.clone()
            }
            Decision::Full | Decision::Unsatisfiable => return,
            Decision::NotModified => panic!("no validators were sent"),
        };
        for w in ranges.windows(2) {
            assert!(w[0].last + 1 < w[1].first, "{ranges:?}");
        }
        for r in ranges {
            assert!(r.first <= r.last && r.last < len, "{r:?} in {len}");
        }
    }
}
