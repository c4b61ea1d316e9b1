//! Strict JSON parsing (like `serde_json::from_slice`, but a duplicate object key is an error),
//! JSON pointer segments, and text cut to length for messages.
//!
//! CloudFormation refuses templates with duplicate keys. A validator that silently keeps the
//! last one would judge a different document than the one deployed, so we refuse them too.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Value};

/// Parses JSON text into a [`Value`], refusing duplicate keys at any depth.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let mut read = Read::default();
    let value = Strict(&mut read).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

/// Parses JSON text into a [`Value`], refusing duplicate keys at any depth.
pub fn from_str(text: &str) -> Result<Value, serde_json::Error> {
    from_slice(text.as_bytes())
}

/// The members and items of the objects and arrays being read, innermost last. Each object or
/// array is gathered here and then made at its final size: grown item by item, most of a
/// template's (one to three entries) kept room for four, a fifth of a large template's memory.
#[derive(Default)]
struct Read {
    members: Vec<(String, Value)>,
    items: Vec<Value>,
}

/// Reads one value.
struct Strict<'r>(&'r mut Read);

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let read = self.0;
        let start = read.items.len();
        while let Some(item) = seq.next_element_seed(Strict(&mut *read))? {
            read.items.push(item);
        }
        Ok(Value::Array(read.items.drain(start..).collect()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let read = self.0;
        let start = read.members.len();
        // Past a few keys the object becomes a map, which finds a duplicate with one hash.
        let mut object: Option<Map<String, Value>> = None;
        while let Some(key) = map.next_key::<String>()? {
            let duplicate = |key: &str| de::Error::custom(format_args!("duplicate key `{key}`"));
            match &mut object {
                None if read.members[start..].iter().any(|(known, _)| *known == key) => return Err(duplicate(&key)),
                None => {
                    let value = map.next_value_seed(Strict(&mut *read))?;
                    read.members.push((key, value));
                    if read.members.len() - start == FEW_KEYS {
                        object = Some(read.members.drain(start..).collect());
                    }
                }
                Some(object) => match object.entry(key) {
                    Entry::Occupied(entry) => return Err(duplicate(entry.key())),
                    Entry::Vacant(entry) => {
                        entry.insert(map.next_value_seed(Strict(&mut *read))?);
                    }
                },
            }
        }
        // Collected from a drain, a map is made at the drain's exact length.
        Ok(Value::Object(object.unwrap_or_else(|| read.members.drain(start..).collect())))
    }
}

/// Up to this many keys an object is gathered as a list before it becomes a map.
const FEW_KEYS: usize = 8;

/// A key as one JSON pointer segment (`~` and `/` escaped, RFC 6901).
pub(crate) fn pointer_segment(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// `text` cut to at most `max` characters, with `…` when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((end, _)) if text.chars().count() > max => format!("{}…", &text[..end]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "x"], "b": {"c": {}}}"#;
        assert_eq!(from_str(text).unwrap(), serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn refuses_duplicate_keys_at_any_depth() {
        let err = from_str(r#"{"a": {"b": 1, "b": 2}}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate key `b`"), "{err}");
        assert!(from_str(r#"{"a": 1, "a": 1}"#).is_err());
    }

    #[test]
    fn small_and_large_objects_keep_their_order_and_refuse_duplicates_wherever_they_are() {
        for size in [1, FEW_KEYS - 1, FEW_KEYS, FEW_KEYS + 1, 3 * FEW_KEYS] {
            let keys: Vec<String> = (0..size).rev().map(|i| format!("k{i}")).collect();
            let members: Vec<String> = keys.iter().map(|k| format!("\"{k}\": 1")).collect();
            let value = from_str(&format!("{{{}}}", members.join(", "))).unwrap();
            let read: Vec<&String> = value.as_object().unwrap().keys().collect();
            assert_eq!(read, keys.iter().collect::<Vec<_>>(), "{size} keys");
            // A repeat of the first key, and of the last, after every other key.
            for repeated in [&keys[0], &keys[size - 1]] {
                let text = format!("{{{}, \"{repeated}\": 2}}", members.join(", "));
                let error = from_str(&text).unwrap_err();
                assert!(error.to_string().contains(&format!("duplicate key `{repeated}`")), "{size} keys: {error}");
            }
        }
    }

    #[test]
    fn refuses_trailing_garbage() {
        assert!(from_str(r#"{"a": 1} x"#).is_err());
    }

    #[test]
    fn unicode_escaped_keys_are_the_same_key() {
        assert!(from_str(r#"{"a": 1, "\u0061": 2}"#).is_err());
    }

    #[test]
    fn shorten_respects_char_boundaries() {
        assert_eq!(shorten("héllo", 3), "hé…");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
