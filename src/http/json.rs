//! JSON bodies written by a serde serializer made for writing into memory.
//!
//! serde_json writes through `io::Write`: each key is escaped byte by byte, each string goes
//! through a per-byte table loop, and every fragment is its own write call. Our large answers
//! (a 100-song album is about 80 KB, a 500-song Subsonic page about 400 KB) are mostly ids,
//! names and keys that need no escaping, so this writer checks a whole string at once and
//! copies it. The output is byte for byte what `serde_json::to_vec` writes, which the tests
//! check; serde_json stays the reader and the writer of everything else.

use std::fmt::{self, Display, Write as _};

use serde::ser::{self, Serialize};

/// Why a value could not be written as JSON.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

type Result<T = ()> = std::result::Result<T, Error>;

/// `value` as compact JSON.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>> {
    to_vec_sized(value, 256)
}

/// `value` as compact JSON, written into a buffer of `capacity` bytes to begin with: an answer
/// of a hundred tracks would otherwise be copied seven times as its buffer doubles.
pub fn to_vec_sized<T: Serialize + ?Sized>(value: &T, capacity: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(capacity);
    write(&mut out, value)?;
    Ok(out)
}

/// `value` as compact JSON, appended to `out`.
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) -> Result {
    value.serialize(&mut Writer { out })
}

const ONES: u64 = u64::from_ne_bytes([1; 8]);
const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);

/// True when one of the eight bytes in `x` is below `n` (`n` at most 0x80).
fn any_below(x: u64, n: u8) -> bool {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS != 0
}

/// True when one of the eight bytes in `x` is `b`.
fn any_is(x: u64, b: u8) -> bool {
    any_below(x ^ (ONES * u64::from(b)), 1)
}

/// True when `s` holds a byte JSON must escape: a control character, `"` or `\\`. Eight bytes
/// are tested at once, as one 64-bit word; the last word overlaps the one before.
#[inline]
fn needs_escape(s: &[u8]) -> bool {
    let byte = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    let word = |w: &[u8]| {
        let x = u64::from_ne_bytes(w.try_into().unwrap_or_default());
        any_below(x, 0x20) | any_is(x, b'"') | any_is(x, b'\\')
    };
    if s.len() < 8 {
        return s.iter().fold(false, |any, &b| any | byte(b));
    }
    let mut words = s.chunks_exact(8);
    if words.any(word) {
        return true;
    }
    word(&s[s.len() - 8..])
}

/// `s` as a JSON string, escaped the way serde_json escapes it.
#[inline]
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if needs_escape(bytes) {
        escape_into(out, bytes);
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b'"');
}

/// `bytes` (valid UTF-8) with the bytes JSON must escape escaped.
#[cold]
fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Numbers with a fraction are rare in our answers: serde_json writes them, so they read back
/// the same in every client.
fn float<F: Serialize>(out: &mut Vec<u8>, f: F) -> Result {
    serde_json::to_writer(out, &f).map_err(ser::Error::custom)
}

/// `v` as serde_json writes it, quicker for the durations and ratings that fill our answers.
fn write_f64(out: &mut Vec<u8>, v: f64) -> Result {
    if thousandths(out, v) {
        return Ok(());
    }
    float(out, v)
}

/// Writes `v` when it is a whole number of thousandths (a duration in seconds from
/// milliseconds, a rating average to two places) and returns false otherwise.
///
/// Such a number is the double nearest to a decimal of at most 15 significant digits, and
/// no two such decimals share a double, so that decimal with its trailing zeros dropped is
/// the shortest text that reads back as `v`: what serde_json writes, in plain notation below
/// 10^16.
fn thousandths(out: &mut Vec<u8>, v: f64) -> bool {
    if !v.is_finite() || v.abs() >= 1e12 {
        return false;
    }
    let scaled = (v * 1000.0).round();
    if scaled / 1000.0 != v {
        return false;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    // Whole and below 10^15, so the cast is exact.
    let n = scaled.abs() as u64;
    let mut buf = itoa::Buffer::new();
    out.extend_from_slice(buf.format(n / 1000).as_bytes());
    out.push(b'.');
    let frac = n % 1000;
    if frac == 0 {
        out.push(b'0');
    } else {
        let digits = [frac / 100, frac / 10 % 10, frac % 10].map(|d| b'0' + d as u8);
        let len = if frac % 10 != 0 {
            3
        } else if frac % 100 != 0 {
            2
        } else {
            1
        };
        out.extend_from_slice(&digits[..len]);
    }
    true
}

/// `id` as a JSON string of its 32 lower-case hex digits, which need no escaping.
pub fn put_hex_id(out: &mut Vec<u8>, id: &uuid::Uuid) {
    let mut buf = [0u8; 32];
    out.push(b'"');
    out.extend_from_slice(id.as_simple().encode_lower(&mut buf).as_bytes());
    out.push(b'"');
}

/// An object written field by field, for the few wire types whose speed matters (a song is
/// written 500 times in one search page). Keys are literals in our code and are copied as they
/// are; values go through the same escaping as everything else.
pub struct Object<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Object<'a> {
    #[inline]
    pub fn open(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Writes `"key":` (after a comma unless first) and returns the buffer for the value.
    #[inline(always)]
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        debug_assert!(!needs_escape(key.as_bytes()));
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    #[inline]
    pub fn str(&mut self, key: &str, v: &str) {
        write_str(self.key(key), v);
    }

    #[inline]
    pub fn opt_str(&mut self, key: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(key, v);
        }
    }

    #[inline]
    pub fn int(&mut self, key: &str, v: impl itoa::Integer) {
        let out = self.key(key);
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    #[inline]
    pub fn opt_int(&mut self, key: &str, v: Option<impl itoa::Integer>) {
        if let Some(v) = v {
            self.int(key, v);
        }
    }

    /// The number, or `null`: what `Serialize` writes for an `Option` without
    /// `skip_serializing_if`.
    #[inline]
    pub fn int_or_null(&mut self, key: &str, v: Option<impl itoa::Integer>) {
        match v {
            Some(v) => self.int(key, v),
            None => self.key(key).extend_from_slice(b"null"),
        }
    }

    #[inline]
    pub fn f64(&mut self, key: &str, v: f64) -> Result {
        write_f64(self.key(key), v)
    }

    /// The number, or `null`.
    #[inline]
    pub fn f64_or_null(&mut self, key: &str, v: Option<f64>) -> Result {
        match v {
            Some(v) => self.f64(key, v),
            None => {
                self.key(key).extend_from_slice(b"null");
                Ok(())
            }
        }
    }

    /// `[...]` of strings.
    #[inline]
    pub fn strs<'s>(&mut self, key: &str, items: impl IntoIterator<Item = &'s str>) {
        self.array(key, items, write_str);
    }

    /// `[...]` of ids, as [`put_hex_id`] writes them.
    #[inline]
    pub fn hex_ids<'u>(&mut self, key: &str, ids: impl IntoIterator<Item = &'u uuid::Uuid>) {
        self.array(key, ids, put_hex_id);
    }

    #[inline]
    fn array<T>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = T>,
        put: fn(&mut Vec<u8>, T),
    ) {
        let out = self.key(key);
        out.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            put(out, item);
        }
        out.push(b']');
    }

    #[inline]
    pub fn bool(&mut self, key: &str, v: bool) {
        let out = self.key(key);
        out.extend_from_slice(if v { b"true" } else { b"false" });
    }

    pub fn close(self) {
        self.out.push(b'}');
    }
}

/// Escapes what `Display` writes, fragment by fragment, without formatting into a string first.
struct Escaping<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if needs_escape(s.as_bytes()) {
            escape_into(self.0, s.as_bytes());
        } else {
            self.0.extend_from_slice(s.as_bytes());
        }
        Ok(())
    }
}

/// The serializer: appends to a byte buffer, which cannot fail.
pub struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn int(&mut self, n: impl itoa::Integer) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    /// `{"variant":` before a variant's contents.
    fn open_variant(&mut self, variant: &str) {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
    }
}

/// A sequence, map or struct being written; `first` says whether a comma is due.
pub struct Compound<'w, 'a> {
    w: &'w mut Writer<'a>,
    first: bool,
    /// What closes it: `]`, `}`, or `]}` / `}}` for a variant's contents.
    close: &'static [u8],
}

impl<'w, 'a> Compound<'w, 'a> {
    fn open(w: &'w mut Writer<'a>, open: u8, close: &'static [u8]) -> Self {
        w.out.push(open);
        Compound {
            w,
            first: true,
            close,
        }
    }

    fn comma(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.w.out.push(b',');
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        self.comma();
        value.serialize(&mut *self.w)
    }

    /// A struct's field. Its name is a literal in a type's `Serialize` (derived or ours), none
    /// needs escaping, so it is copied without the test.
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        debug_assert!(!needs_escape(key.as_bytes()), "field name {key:?}");
        self.comma();
        let out = &mut *self.w.out;
        out.reserve(key.len() + 3);
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        value.serialize(&mut *self.w)
    }

    fn close(self) -> Result {
        self.w.out.extend_from_slice(self.close);
        Ok(())
    }
}

/// The serializer methods for every integer type, each calling `$body` with the serializer
/// and the number.
macro_rules! integers {
    (|$s:ident, $v:ident| $body:expr) => {
        integers!(@each $s $v $body; serialize_i8 i8, serialize_i16 i16, serialize_i32 i32,
            serialize_i64 i64, serialize_i128 i128, serialize_u8 u8, serialize_u16 u16,
            serialize_u32 u32, serialize_u64 u64, serialize_u128 u128);
    };
    (@each $s:ident $v:ident $body:expr; $($method:ident $ty:ty),*) => {$(
        fn $method(self, $v: $ty) -> Result {
            let $s = self;
            $body
        }
    )*};
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Compound<'w, 'a>;
    type SerializeTupleStruct = Compound<'w, 'a>;
    type SerializeTupleVariant = Compound<'w, 'a>;
    type SerializeMap = Compound<'w, 'a>;
    type SerializeStruct = Compound<'w, 'a>;
    type SerializeStructVariant = Compound<'w, 'a>;

    fn serialize_bool(self, v: bool) -> Result {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    integers!(|w, v| {
        w.int(v);
        Ok(())
    });
    fn serialize_f32(self, v: f32) -> Result {
        float(self.out, v)
    }
    fn serialize_f64(self, v: f64) -> Result {
        write_f64(self.out, v)
    }
    fn serialize_char(self, v: char) -> Result {
        write_str(self.out, v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        // As serde_json: an array of numbers.
        let mut seq = Compound::open(self, b'[', b"]");
        for b in v {
            seq.element(b)?;
        }
        seq.close()
    }
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq> {
        Ok(Compound::open(self, b'[', b"]"))
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        self.open_variant(variant);
        Ok(Compound::open(self, b'[', b"]}"))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap> {
        Ok(Compound::open(self, b'{', b"}"))
    }
    fn serialize_struct(self, _: &'static str, _len: usize) -> Result<Self::SerializeStruct> {
        Ok(Compound::open(self, b'{', b"}"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant> {
        self.open_variant(variant);
        Ok(Compound::open(self, b'{', b"}}"))
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        self.out.push(b'"');
        write!(Escaping(self.out), "{value}").map_err(ser::Error::custom)?;
        self.out.push(b'"');
        Ok(())
    }
}

// Sequences of every kind write their elements the same way.
macro_rules! elements {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                self.element(value)
            }
            fn end(self) -> Result {
                self.close()
            }
        }
    )*};
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        self.comma();
        key.serialize(MapKey(&mut *self.w))?;
        self.w.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut *self.w)
    }
    fn end(self) -> Result {
        self.close()
    }
}

// Structs and struct variants write their fields the same way.
macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl ser::$trait for Compound<'_, '_> {
            type Ok = ();
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result {
                self.field(key, value)
            }
            fn end(self) -> Result {
                self.close()
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);

/// A map key: JSON keys are strings, so numbers and booleans are quoted, as serde_json does.
struct MapKey<'w, 'a>(&'w mut Writer<'a>);

impl MapKey<'_, '_> {
    fn quoted(self, text: &str) -> Result {
        write_str(self.0.out, text);
        Ok(())
    }

    fn not_a_key(what: &str) -> Error {
        Error(format!("a map key must be a string, not {what}"))
    }
}

impl ser::Serializer for MapKey<'_, '_> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = ser::Impossible<(), Error>;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_str(self, v: &str) -> Result {
        self.quoted(v)
    }
    fn serialize_char(self, v: char) -> Result {
        self.quoted(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_bool(self, v: bool) -> Result {
        self.quoted(if v { "true" } else { "false" })
    }
    integers!(|k, v| k.quoted(itoa::Buffer::new().format(v)));
    fn serialize_f32(self, _: f32) -> Result {
        Err(Self::not_a_key("a number with a fraction"))
    }
    fn serialize_f64(self, _: f64) -> Result {
        Err(Self::not_a_key("a number with a fraction"))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result {
        Err(Self::not_a_key("bytes"))
    }
    fn serialize_none(self) -> Result {
        Err(Self::not_a_key("null"))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
        Err(Self::not_a_key("an option"))
    }
    fn serialize_unit(self) -> Result {
        Err(Self::not_a_key("null"))
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        Err(Self::not_a_key("null"))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.quoted(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(Self::not_a_key("an enum with data"))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        Err(Self::not_a_key("a list"))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        Err(Self::not_a_key("a list"))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        Err(Self::not_a_key("a list"))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Self::not_a_key("an enum with data"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        Err(Self::not_a_key("a map"))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        Err(Self::not_a_key("a struct"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Self::not_a_key("an enum with data"))
    }
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result {
        self.0.out.push(b'"');
        write!(Escaping(self.0.out), "{value}").map_err(ser::Error::custom)?;
        self.0.out.push(b'"');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};
    use std::collections::BTreeMap;

    fn same_as_serde_json<T: Serialize>(v: &T) {
        assert_eq!(
            String::from_utf8(to_vec(v).unwrap()).unwrap(),
            serde_json::to_string(v).unwrap()
        );
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    enum Shape {
        Unit,
        New(u8),
        Pair(i32, &'static str),
        Named { x: f64, label: Option<&'static str> },
    }

    #[derive(serde::Serialize)]
    struct Inner {
        a: u32,
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Everything {
        flag: bool,
        small: i8,
        big: u128,
        neg: i64,
        half: f32,
        ratio: f64,
        nan: f64,
        ch: char,
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
        absent: Option<u8>,
        bytes: &'static [u8],
        unit: (),
        tuple: (u8, &'static str),
        shapes: Vec<Shape>,
        by_number: BTreeMap<u32, bool>,
        by_char: BTreeMap<char, u8>,
        #[serde(flatten)]
        inner: Inner,
        shown: Shown,
        empty: Vec<u8>,
    }

    struct Shown;
    impl Serialize for Shown {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            s.collect_str(&format_args!("a\"b{}\\c\n", 7))
        }
    }

    #[test]
    fn writes_every_shape_of_data_as_serde_json_does() {
        same_as_serde_json(&Everything {
            flag: true,
            small: -8,
            big: u128::MAX,
            neg: i64::MIN,
            half: 0.1,
            ratio: -1.5e300,
            nan: f64::NAN,
            ch: '"',
            text: "tab\there \u{1} \u{7f} é \"quoted\" back\\slash / \u{8}\u{c}\r\n".into(),
            skipped: None,
            absent: None,
            bytes: b"\x00\xff",
            unit: (),
            tuple: (3, "x"),
            shapes: vec![
                Shape::Unit,
                Shape::New(9),
                Shape::Pair(-1, "p"),
                Shape::Named {
                    x: 2.0,
                    label: Some("l"),
                },
            ],
            by_number: BTreeMap::from([(1, true), (20, false)]),
            by_char: BTreeMap::from([('k', 1)]),
            inner: Inner { a: 5 },
            shown: Shown,
            empty: vec![],
        });
        same_as_serde_json(&json!({"nested": {"list": [1, -2, 3.25, null, "s", [], {}]}}));
    }

    #[test]
    fn objects_written_by_hand_read_back_as_written() {
        let mut out = Vec::new();
        let mut o = Object::open(&mut out);
        o.str("title", "say \"hi\"\n");
        o.opt_str("genre", None);
        o.int("size", u64::MAX);
        o.opt_int("year", Some(-5i32));
        o.bool("isDir", false);
        o.close();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v,
            json!({"title": "say \"hi\"\n", "size": u64::MAX, "year": -5, "isDir": false})
        );
    }

    #[test]
    fn map_keys_that_are_not_strings_are_refused() {
        let m = BTreeMap::from([(vec![1u8], 1u8)]);
        assert!(to_vec(&m).is_err());
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".*".prop_map(Value::from),
            "[\\x00-\\x7f\"\\\\]{0,40}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(".*", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_value_is_written_as_serde_json_writes_it(v in any_json()) {
            prop_assert_eq!(to_vec(&v).unwrap(), serde_json::to_vec(&v).unwrap());
        }

        #[test]
        fn thousandths_are_written_as_serde_json_writes_them(
            n in -1_000_000_000_000_000i64..1_000_000_000_000_000,
            small in -100_000i64..100_000,
        ) {
            for v in [n as f64 / 1000.0, small as f64 / 1000.0, small as f64 / 100.0, -0.0] {
                prop_assert_eq!(to_vec(&v).unwrap(), serde_json::to_vec(&v).unwrap());
            }
        }

        #[test]
        fn the_word_test_finds_exactly_the_bytes_to_escape(s in prop::collection::vec(any::<u8>(), 0..40)) {
            let naive = s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(needs_escape(&s), naive);
        }

        #[test]
        fn escaping_matches_serde_json(s in "(.|[\\x00-\\x1f\"\\\\]){0,70}") {
            prop_assert_eq!(to_vec(&s).unwrap(), serde_json::to_vec(&s).unwrap());
        }
    }
}
