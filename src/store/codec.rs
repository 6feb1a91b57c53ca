//! Order-preserving key encoding: the one place that turns typed keys into the bytes sled sorts.
//!
//! Every encoding here is *self-delimiting* (no encoding is a proper prefix of another of the
//! same type) and *order-preserving* (`a < b` iff `a.encode() < b.encode()`). Tuples are the
//! concatenation of their parts, so both properties carry over to them, and the keys sharing a
//! first part form one contiguous byte range: [`prefix`] gives its bytes, and [`KeyPrefix`] says
//! at the type level which leading parts a tuple key can be scanned by.
//!
//! | type | encoding |
//! |---|---|
//! | `u8`, `u32`, `u64` | big-endian |
//! | `i64` | big-endian with the sign bit flipped, so negatives sort first |
//! | `bool` | one byte, `0` or `1` |
//! | `String` | UTF-8 with `0x00` escaped as `0x00 0xFF`, terminated by `0x00 0x01` |
//! | `Vec<u8>` | as `String`, without the UTF-8 check |
//! | `Uuid` | its 16 bytes |
//! | `()` | nothing |
//! | `(A, B, ..)` | the parts one after another |

use uuid::Uuid;

/// Why bytes read from the store are not a valid key of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The bytes ended before a complete value of the named type was read.
    #[error("key is truncated: not enough bytes for a {0}")]
    Truncated(&'static str),
    /// A string part is not valid UTF-8.
    #[error("key has a string part that is not valid UTF-8")]
    InvalidUtf8,
    /// A string part has `0x00` followed by a byte other than the escape or terminator.
    #[error("key has a string part with an invalid escape byte {0:#04x} after 0x00")]
    InvalidEscape(u8),
    /// A bool part is neither `0` nor `1`.
    #[error("key has a bool part with invalid byte {0:#04x}")]
    InvalidBool(u8),
    /// The key decoded fully but bytes were left over.
    #[error("key has {0} unexpected trailing bytes")]
    TrailingBytes(usize),
}

/// A value that can be a key (or part of one) in a store table.
pub trait Key: Sized {
    /// Appends the encoding of `self` to `out`.
    fn encode_into(&self, out: &mut Vec<u8>);

    /// Reads one value from the front of `input` and advances `input` past it.
    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError>;

    /// The encoding of `self`.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes a whole key; bytes left over are an error, as they mean the wrong key type.
    fn decode(bytes: &[u8]) -> Result<Self, KeyError> {
        let mut input = bytes;
        let key = Self::decode_from(&mut input)?;
        match input.len() {
            0 => Ok(key),
            n => Err(KeyError::TrailingBytes(n)),
        }
    }
}

/// Marks `P` as leading parts of the tuple key `Self`: every encoded `Self` whose leading parts
/// equal some `p` starts with `p.encode()`, and no other `Self` does.
pub trait KeyPrefix<P: Key>: Key {}

/// The bytes that begin every encoded tuple key whose first part(s) equal `first`, and no other
/// key of that tuple type. Holds because every part's encoding is self-delimiting.
pub fn prefix<P: Key>(first: &P) -> Vec<u8> {
    first.encode()
}

/// Splits `n` bytes off the front of `input`.
fn take<'a>(input: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], KeyError> {
    if input.len() < n {
        return Err(KeyError::Truncated(what));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn take_array<const N: usize>(input: &mut &[u8], what: &'static str) -> Result<[u8; N], KeyError> {
    let bytes = take(input, N, what)?;
    Ok(bytes.try_into().expect("take returned N bytes"))
}

macro_rules! unsigned_key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn encode_into(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }

            fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
                take_array(input, stringify!($t)).map(<$t>::from_be_bytes)
            }
        }
    )*};
}

unsigned_key!(u8, u32, u64);

// Flipping the sign bit maps i64::MIN..=i64::MAX onto 0..=u64::MAX monotonically.
const I64_SIGN: u64 = 1 << 63;

impl Key for i64 {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&((*self as u64) ^ I64_SIGN).to_be_bytes());
    }

    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
        take_array(input, "i64").map(|b| (u64::from_be_bytes(b) ^ I64_SIGN) as i64)
    }
}

impl Key for bool {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }

    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
        match take_array::<1>(input, "bool")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(KeyError::InvalidBool(b)),
        }
    }
}

// The escape byte sorts above the terminator, so a string sorts before its own extensions
// ("a" < "a\0" < "a\u{1}") exactly as `str`'s byte order has it.
const STR_MARK: u8 = 0x00;
const STR_ESCAPED_ZERO: u8 = 0xFF;
const STR_END: u8 = 0x01;

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    for &b in bytes {
        out.push(b);
        if b == STR_MARK {
            out.push(STR_ESCAPED_ZERO);
        }
    }
    out.extend_from_slice(&[STR_MARK, STR_END]);
}

fn decode_bytes(input: &mut &[u8], what: &'static str) -> Result<Vec<u8>, KeyError> {
    let mut bytes = Vec::new();
    let mut rest = *input;
    loop {
        let Some(mark) = rest.iter().position(|&b| b == STR_MARK) else {
            return Err(KeyError::Truncated(what));
        };
        bytes.extend_from_slice(&rest[..mark]);
        match rest.get(mark + 1) {
            Some(&STR_END) => {
                *input = &rest[mark + 2..];
                return Ok(bytes);
            }
            Some(&STR_ESCAPED_ZERO) => bytes.push(STR_MARK),
            Some(&other) => return Err(KeyError::InvalidEscape(other)),
            None => return Err(KeyError::Truncated(what)),
        }
        rest = &rest[mark + 2..];
    }
}

impl Key for String {
    fn encode_into(&self, out: &mut Vec<u8>) {
        encode_bytes(self.as_bytes(), out);
    }

    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
        String::from_utf8(decode_bytes(input, "string")?).map_err(|_| KeyError::InvalidUtf8)
    }
}

/// Raw bytes (e.g. file names, which need not be UTF-8) use the string encoding without the
/// UTF-8 check, so they order and delimit the same way.
impl Key for Vec<u8> {
    fn encode_into(&self, out: &mut Vec<u8>) {
        encode_bytes(self, out);
    }

    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
        decode_bytes(input, "byte string")
    }
}

impl Key for Uuid {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }

    fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
        take_array(input, "uuid").map(Uuid::from_bytes)
    }
}

impl Key for () {
    fn encode_into(&self, _out: &mut Vec<u8>) {}

    fn decode_from(_input: &mut &[u8]) -> Result<Self, KeyError> {
        Ok(())
    }
}

macro_rules! tuple_key {
    ($($name:ident),+) => {
        impl<$($name: Key),+> Key for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode_into(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode_into(out);)+
            }

            fn decode_from(input: &mut &[u8]) -> Result<Self, KeyError> {
                Ok(($($name::decode_from(input)?,)+))
            }
        }
    };
}

tuple_key!(A, B);
tuple_key!(A, B, C);
tuple_key!(A, B, C, D);

impl<A: Key, B: Key> KeyPrefix<A> for (A, B) {}
impl<A: Key, B: Key, C: Key> KeyPrefix<A> for (A, B, C) {}
impl<A: Key, B: Key, C: Key> KeyPrefix<(A, B)> for (A, B, C) {}
impl<A: Key, B: Key, C: Key, D: Key> KeyPrefix<A> for (A, B, C, D) {}
impl<A: Key, B: Key, C: Key, D: Key> KeyPrefix<(A, B)> for (A, B, C, D) {}
impl<A: Key, B: Key, C: Key, D: Key> KeyPrefix<(A, B, C)> for (A, B, C, D) {}

/// Implements [`Key`] for tuple newtypes over [`Uuid`] (`struct UserId(Uuid)`), encoded as the
/// inner Uuid.
///
/// The first argument is the path of this module as the caller sees it, because a
/// `macro_rules!` macro cannot name its own module independently of where the crate mounts it:
///
/// ```ignore
/// crate::uuid_key!(crate::store::codec; UserId, TrackId, AlbumId);
/// ```
// Exported at the crate root, the one macro path that does not depend on where this module is
// mounted; that is also what lets the macro call itself for the remaining ids.
#[macro_export]
macro_rules! uuid_key {
    ($($codec:ident)::+; $id:ty $(, $rest:ty)* $(,)?) => {
        impl $($codec)::+::Key for $id {
            fn encode_into(&self, out: &mut ::std::vec::Vec<u8>) {
                $($codec)::+::Key::encode_into(&self.0, out)
            }

            fn decode_from(
                input: &mut &[u8],
            ) -> ::std::result::Result<Self, $($codec)::+::KeyError> {
                <::uuid::Uuid as $($codec)::+::Key>::decode_from(input).map(Self)
            }
        }

        $crate::uuid_key!($($codec)::+; $($rest),*);
    };
    ($($codec:ident)::+;) => {};
}
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::fmt::Debug;

    fn round_trips<K: Key + PartialEq + Debug>(k: &K) {
        assert_eq!(&K::decode(&k.encode()).unwrap(), k);
    }

    fn order_holds<K: Key + Ord + Debug>(a: &K, b: &K) {
        assert_eq!(a.cmp(b), a.encode().cmp(&b.encode()), "{a:?} vs {b:?}");
    }

    fn arb_uuid() -> impl Strategy<Value = Uuid> {
        any::<[u8; 16]>().prop_map(Uuid::from_bytes)
    }

    // Zero bytes and the escape/terminator bytes are the interesting cases for the string codec.
    fn arb_string() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[\\x00\\x01\\x7f\\u{ff}a]{0,6}",
            proptest::collection::vec(prop_oneof![Just('\0'), Just('\u{1}'), any::<char>()], 0..6)
                .prop_map(|cs| cs.into_iter().collect()),
        ]
    }

    proptest! {
        #[test]
        fn scalars_round_trip(a: u8, b: u32, c: u64, d: i64, e: bool, u in arb_uuid()) {
            round_trips(&a);
            round_trips(&b);
            round_trips(&c);
            round_trips(&d);
            round_trips(&e);
            round_trips(&u);
            round_trips(&());
        }

        #[test]
        fn strings_round_trip(s in arb_string()) {
            round_trips(&s);
        }

        #[test]
        fn byte_strings_round_trip_and_keep_order(
            a in proptest::collection::vec(any::<u8>(), 0..40),
            b in proptest::collection::vec(any::<u8>(), 0..40),
            n: u64,
        ) {
            round_trips(&a);
            round_trips(&(a.clone(), n));
            order_holds(&a, &b);
            order_holds(&(a, n), &(b, n));
        }

        #[test]
        fn tuples_round_trip(
            s in arb_string(),
            t in arb_string(),
            u in arb_uuid(),
            n: u64,
            i: i64,
            b: bool,
        ) {
            round_trips(&(s.clone(), n));
            round_trips(&(u, s.clone(), i));
            round_trips(&(b, s.clone(), t.clone(), n));
            round_trips(&((s.clone(), i), (t.clone(), ()), u));
            round_trips(&(((), s), (u, (t, b))));
        }

        #[test]
        fn u64_order(a: u64, b: u64) {
            order_holds(&a, &b);
        }

        #[test]
        fn i64_order(a: i64, b: i64) {
            order_holds(&a, &b);
        }

        #[test]
        fn string_order(a in arb_string(), b in arb_string()) {
            order_holds(&a, &b);
        }

        #[test]
        fn pair_order(a in (arb_string(), any::<u64>()), b in (arb_string(), any::<u64>())) {
            order_holds(&a, &b);
        }

        #[test]
        fn triple_order(
            a in (any::<u64>(), arb_string(), any::<i64>()),
            b in (any::<u64>(), arb_string(), any::<i64>()),
        ) {
            order_holds(&a, &b);
        }

        // Same-first-part pairs are rare among random inputs, so the second key shares `a`'s
        // first part half the time.
        #[test]
        fn prefix_selects_exactly_the_first_part(
            a in (arb_string(), any::<u64>()),
            other in (arb_string(), any::<u64>()),
            share: bool,
        ) {
            let b = if share { (a.0.clone(), other.1) } else { other };
            let p = prefix(&a.0);
            prop_assert!(a.encode().starts_with(&p));
            prop_assert_eq!(b.encode().starts_with(&p), b.0 == a.0);
        }

        #[test]
        fn two_part_prefix_of_triple(
            a in (arb_string(), arb_string(), any::<i64>()),
            b in (arb_string(), arb_string(), any::<i64>()),
        ) {
            let p = prefix(&(a.0.clone(), a.1.clone()));
            prop_assert!(a.encode().starts_with(&p));
            prop_assert_eq!(b.encode().starts_with(&p), (&b.0, &b.1) == (&a.0, &a.1));
        }

        #[test]
        fn garbage_never_panics(bytes: Vec<u8>) {
            let _ = <(String, u64, bool, Uuid)>::decode(&bytes);
        }
    }

    #[test]
    fn decode_errors_say_what_is_wrong() {
        assert_eq!(u64::decode(&[1, 2, 3]), Err(KeyError::Truncated("u64")));
        assert_eq!(
            u32::decode(&[0, 0, 0, 1, 9]),
            Err(KeyError::TrailingBytes(1))
        );
        assert_eq!(bool::decode(&[2]), Err(KeyError::InvalidBool(2)));
        assert_eq!(String::decode(b"abc"), Err(KeyError::Truncated("string")));
        assert_eq!(String::decode(b"a\x00"), Err(KeyError::Truncated("string")));
        assert_eq!(
            String::decode(b"a\x00\x07"),
            Err(KeyError::InvalidEscape(7))
        );
        assert_eq!(String::decode(b"\xff\x00\x01"), Err(KeyError::InvalidUtf8));
        assert_eq!(String::decode(b"a\x00\xff\x00\x01"), Ok("a\0".to_owned()));
        assert_eq!(<(u8, u8)>::decode(&[1]), Err(KeyError::Truncated("u8")));
    }

    #[test]
    fn uuid_newtypes_delegate_to_uuid() {
        #[derive(Debug, PartialEq)]
        struct UserId(Uuid);
        #[derive(Debug, PartialEq)]
        struct TrackId(Uuid);
        uuid_key!(super; UserId, TrackId);

        let id = UserId(Uuid::now_v7());
        assert_eq!(id.encode(), id.0.encode());
        round_trips(&id);
        round_trips(&(TrackId(Uuid::new_v4()), id));
    }
}
