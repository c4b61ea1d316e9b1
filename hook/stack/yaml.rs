//! YAML stack templates read the way CloudFormation reads them.
//!
//! CloudFormation's YAML reader follows YAML 1.1 for plain (unquoted) scalars, not YAML 1.2:
//! `yes`, `No`, `ON`, `off` are booleans (a tag `Value: YES` is deployed as `"true"`), `010` is
//! the octal 8, `0b11` is 3, `1_000` is 1000 and `1:30` is 90. Where readers of YAML 1.1 disagree
//! among themselves (`y` and `n`, odd casings such as `yEs`, exponents without a dot such as
//! `1e3`), which reading CloudFormation takes is not documented: such a scalar becomes a
//! [`READINGS_KEY`] object holding every reading, and each reading is judged in a scenario of
//! its own (see `intrinsics`), so that no reading can hide a violation.
//!
//! The document is built from the parser's events in one pass, without recursion: anchors are
//! copied where aliased (within a node budget, so that an alias bomb is refused rather than
//! expanded), duplicate keys and merge keys are refused, short-form tags become intrinsics.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

use super::error::ReadError;

/// YAML short-form tags written `!Name` that stand for `Fn::Name` (`!Ref`, `!Condition` and
/// `!GetAtt` are handled on their own).
const SHORT_FORMS: [&str; 24] = [
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "GetStackOutput",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "ToJsonString",
    "Length",
    // Only valid in Rules, where they are never judged; read so that the file can be.
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "RefAll",
    "ValueOf",
    "ValueOfAll",
];

/// The key of an object standing for a plain scalar that YAML 1.1 readers read differently:
/// `{"rcfge:YamlScalarReadings": {"written": "y", "readings": [true, "y"]}}`. Templates may not
/// use the key themselves (`read::refuse_reserved_keys`), so only the reader makes one.
pub const READINGS_KEY: &str = "rcfge:YamlScalarReadings";

/// How deep collections may nest; deeper is refused (later stages recurse over the value).
const MAX_DEPTH: usize = 128;

/// How large a document may grow once its aliases are copied, counting each value's text and
/// [`NODE_SIZE`] for the value itself: a 1 MB template written out stays far below, while an
/// alias bomb (of many values, or of a long string aliased many times) goes far above. It keeps
/// the hook well inside its function's memory.
const MAX_SIZE: usize = 32 * 1024 * 1024;

/// What one value costs in memory besides its text, roughly.
const NODE_SIZE: usize = 64;

/// A collection being read.
enum Frame {
    Sequence { items: Vec<Value>, anchor: usize, tag: Option<Tag>, size: usize },
    Mapping { object: Map<String, Value>, key: Option<String>, anchor: usize, tag: Option<Tag>, size: usize },
}

/// Reads a YAML stack template into JSON, resolving scalars as CloudFormation does.
pub fn to_json(text: &str) -> Result<Value, ReadError> {
    let mut builder = Builder::default();
    let mut documents = 0;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|error| {
            ReadError::Yaml(format!(
                "{} at line {} column {}",
                error.info(),
                error.marker().line(),
                error.marker().col() + 1
            ))
        })?;
        let at = || format!("line {} column {}", span.start.line(), span.start.col() + 1);
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(ReadError::Yaml(format!("a second YAML document starts at {}", at())));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = if builder.expects_key() {
                    Value::String(key_text(&text, style, tag.as_deref())?)
                } else {
                    scalar(&text, style, tag.as_deref())?
                };
                // A key is placed as it is read, so a duplicate is found at its own (second) place.
                let height = height_of(&value);
                builder.add(value, NODE_SIZE + text.len(), anchor, height).map_err(|error| match error {
                    ReadError::DuplicateKey { key, .. } => ReadError::DuplicateKey { key, at: format!(" at {}", at()) },
                    other => other,
                })?;
            }
            Event::Alias(id) => {
                let (value, size, height) = builder.anchors.get(&id).cloned().ok_or_else(|| {
                    ReadError::Yaml(format!("an alias at {} names no anchor defined before it", at()))
                })?;
                if builder.expects_key() {
                    return Err(ReadError::KeyNotAString { found: "an alias".into() });
                }
                // Nesting is checked as collections open; an alias's copy brings all of its depth
                // at once (anchors of anchors reached thousands of levels, past any stack).
                if builder.stack.len() + height > MAX_DEPTH {
                    return Err(ReadError::TooDeep { limit: MAX_DEPTH });
                }
                builder.add(value, size, 0, height)?;
            }
            Event::SequenceStart(anchor, tag) => {
                builder.open(Frame::Sequence {
                    items: Vec::new(),
                    anchor,
                    tag: tag.map(|t| t.into_owned()),
                    size: NODE_SIZE,
                })?;
            }
            Event::MappingStart(anchor, tag) => {
                builder.open(Frame::Mapping {
                    object: Map::new(),
                    key: None,
                    anchor,
                    tag: tag.map(|t| t.into_owned()),
                    size: NODE_SIZE,
                })?;
            }
            Event::SequenceEnd | Event::MappingEnd => builder.close()?,
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
    Ok(builder.document.unwrap_or(Value::Null))
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// The height of each open collection so far (1 + its highest member's): an alias copies
    /// a whole value in one event, so the depth it reaches is checked from its height.
    heights: Vec<usize>,
    /// Each anchored value, with its size (what copying it costs) and its height.
    anchors: HashMap<usize, (Value, usize, usize)>,
    document: Option<Value>,
    size: usize,
}

impl Builder {
    /// Whether the next node is a mapping key.
    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Mapping { key: None, .. }))
    }

    fn count(&mut self, size: usize) -> Result<(), ReadError> {
        self.size = self.size.saturating_add(size);
        if self.size > MAX_SIZE {
            return Err(ReadError::TooLarge { limit: MAX_SIZE });
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame) -> Result<(), ReadError> {
        if self.expects_key() {
            return Err(ReadError::KeyNotAString { found: "a collection".into() });
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(ReadError::TooDeep { limit: MAX_DEPTH });
        }
        self.count(NODE_SIZE)?;
        self.stack.push(frame);
        self.heights.push(1);
        Ok(())
    }

    fn close(&mut self) -> Result<(), ReadError> {
        let Some(frame) = self.stack.pop() else {
            return Err(ReadError::Yaml("a collection ends that never started".into()));
        };
        let (value, anchor, tag, size) = match frame {
            Frame::Sequence { items, anchor, tag, size } => (Value::Array(items), anchor, tag, size),
            Frame::Mapping { object, anchor, tag, size, .. } => (Value::Object(object), anchor, tag, size),
        };
        let mut height = self.heights.pop().unwrap_or(1);
        let value = match tag {
            Some(tag) if is_non_specific(&tag) => value,
            Some(tag) => {
                // A short form wraps the collection in its function's object.
                height += 1;
                intrinsic(&tag, value)?
            }
            None => value,
        };
        // The collection itself was counted when it opened; its members as they were added.
        self.place(value, size, anchor, height)
    }

    /// Adds a finished node (a scalar, an alias's copy) to the collection being read.
    fn add(&mut self, value: Value, size: usize, anchor: usize, height: usize) -> Result<(), ReadError> {
        self.count(size)?;
        self.place(value, size, anchor, height)
    }

    fn place(&mut self, value: Value, size: usize, anchor: usize, height: usize) -> Result<(), ReadError> {
        if let Some(top) = self.heights.last_mut() {
            *top = (*top).max(height + 1);
        }
        if anchor != 0 {
            self.anchors.insert(anchor, (value.clone(), size, height));
        }
        match self.stack.last_mut() {
            None => self.document = Some(value),
            Some(Frame::Sequence { items, size: total, .. }) => {
                items.push(value);
                *total = total.saturating_add(size);
            }
            Some(Frame::Mapping { object, key, size: total, .. }) => match key.take() {
                None => {
                    let Value::String(name) = value else {
                        return Err(ReadError::KeyNotAString { found: value.to_string() });
                    };
                    if name == "<<" {
                        return Err(ReadError::MergeKey);
                    }
                    if name == READINGS_KEY {
                        return Err(ReadError::ReservedKey { key: name });
                    }
                    if object.contains_key(&name) {
                        return Err(ReadError::DuplicateKey { key: name, at: String::new() });
                    }
                    *key = Some(name);
                }
                Some(name) => {
                    *total = total.saturating_add(size + name.len());
                    object.insert(name, value);
                }
            },
        }
        Ok(())
    }
}

/// How many collections deep `value` goes: 0 for a scalar. Only for the small values one
/// scalar event makes (`!GetAtt a.b`, a scalar with several readings).
fn height_of(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(height_of).max().unwrap_or(0),
        Value::Object(object) => 1 + object.values().map(height_of).max().unwrap_or(0),
        _ => 0,
    }
}

/// The core schema's tags (`!!str`), as the parser names them.
const CORE: &str = "tag:yaml.org,2002:";

/// The non-specific tag `!`: "no particular type".
fn is_non_specific(tag: &Tag) -> bool {
    (tag.handle.is_empty() && tag.suffix == "!") || (tag.handle == "!" && tag.suffix.is_empty())
}

/// `!Ref x` → `{"Ref": "x"}`, `!GetAtt a.b` → `{"Fn::GetAtt": ["a", "b"]}`, `!Sub s` → `{"Fn::Sub": s}`.
fn intrinsic(tag: &Tag, value: Value) -> Result<Value, ReadError> {
    let unknown = || ReadError::UnknownTag { tag: tag.to_string() };
    if tag.handle != "!" {
        return Err(unknown());
    }
    let name = tag.suffix.as_str();
    let (function, argument) = match name {
        "Ref" | "Condition" => (name.to_owned(), value),
        "GetAtt" => ("Fn::GetAtt".to_owned(), split_get_att(value)),
        _ if SHORT_FORMS.contains(&name) => (format!("Fn::{name}"), value),
        _ => return Err(unknown()),
    };
    Ok(Value::Object(Map::from_iter([(function, argument)])))
}

/// `!GetAtt Bucket.Arn` → `["Bucket", "Arn"]`; the list form is kept.
fn split_get_att(value: Value) -> Value {
    match value {
        Value::String(s) => match s.split_once('.') {
            Some((resource, attribute)) => Value::Array(vec![resource.into(), attribute.into()]),
            None => Value::String(s),
        },
        other => other,
    }
}

/// A scalar in value position.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, ReadError> {
    let Some(tag) = tag else {
        return Ok(if style == ScalarStyle::Plain { plain(text)? } else { Value::String(text.to_owned()) });
    };
    if is_non_specific(tag) {
        // `! 0x10` is the *string* 0x10 to YAML; whether CloudFormation agrees is not
        // documented, so a plain scalar that would read as anything but a string is refused.
        return match style {
            ScalarStyle::Plain if !matches!(plain(text)?, Value::String(_)) => {
                Err(ReadError::UnknownTag { tag: format!("! {text}") })
            }
            _ => Ok(Value::String(text.to_owned())),
        };
    }
    if tag.handle == CORE && tag.suffix == "str" {
        return Ok(Value::String(text.to_owned()));
    }
    // A short form's argument is the text as written (`!Ref 010` names `010`).
    intrinsic(tag, Value::String(text.to_owned()))
}

/// A mapping key: always a string, as written. Keys are names (logical ids, condition and
/// parameter names, property names); a condition named `Off` is named `Off`, and a value that
/// refers to it as a plain `Off` is matched by `read::name_in`.
fn key_text(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<String, ReadError> {
    match tag {
        None => Ok(text.to_owned()),
        Some(tag) => match scalar(text, style, Some(tag))? {
            Value::String(s) => Ok(s),
            other => Err(ReadError::KeyNotAString { found: other.to_string() }),
        },
    }
}

/// A plain scalar, read as YAML 1.1; an object of [`READINGS_KEY`] where readers disagree.
pub(crate) fn plain(text: &str) -> Result<Value, ReadError> {
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Ok(Value::Null);
    }
    if let Some(b) = yaml11_bool(text) {
        return Ok(Value::Bool(b));
    }
    if let Some(number) = yaml11_int(text).or_else(|| yaml11_float(text)) {
        return number.map(Value::Number);
    }
    let lower = text.to_ascii_lowercase();
    // YAML 1.1 lists y and n as booleans, though the common readers do not; other casings of the
    // boolean words are booleans to case-insensitive readers.
    if matches!(lower.as_str(), "y" | "yes" | "true" | "on") {
        return Ok(readings(text, Value::Bool(true)));
    }
    if matches!(lower.as_str(), "n" | "no" | "false" | "off") {
        return Ok(readings(text, Value::Bool(false)));
    }
    // An exponent without a dot or a sign (`1e3`, `1.5E3`) is a number to some readers.
    if let Some(number) = lenient_float(text) {
        return Ok(readings(text, Value::Number(number?)));
    }
    Ok(Value::String(text.to_owned()))
}

fn readings(written: &str, other: Value) -> Value {
    let readings = Value::Array(vec![other, Value::String(written.to_owned())]);
    let inner =
        Map::from_iter([("written".to_owned(), Value::String(written.to_owned())), ("readings".to_owned(), readings)]);
    Value::Object(Map::from_iter([(READINGS_KEY.to_owned(), Value::Object(inner))]))
}

/// The readings of a [`READINGS_KEY`] object, if `value` is one.
pub fn readings_of(value: &Value) -> Option<(&str, &[Value])> {
    let Value::Object(object) = value else { return None };
    if object.len() != 1 {
        return None;
    }
    let inner = object.get(READINGS_KEY)?;
    Some((inner.get("written")?.as_str()?, inner.get("readings")?.as_array()?))
}

pub(crate) fn yaml11_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

/// Digits in `radix` with `_` separators (at least one digit), as an exact integer.
fn digits(text: &str, radix: u32) -> Option<u128> {
    let mut value: u128 = 0;
    let mut any = false;
    for c in text.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix)?;
        value = value.checked_mul(u128::from(radix))?.checked_add(u128::from(d))?;
        any = true;
    }
    any.then_some(value)
}

/// YAML 1.1 integers: `0b1010`, `0777` (octal), `0x1F`, `1_000`, `190:20:30` (base 60).
/// `None` when `text` is no integer; `Some(Err)` when it is one too large to hold.
fn yaml11_int(text: &str) -> Option<Result<Number, ReadError>> {
    let (negative, body) = split_sign(text);
    let first = body.chars().next()?;
    let magnitude = if body == "0" {
        Some(0)
    } else if let Some(rest) = body.strip_prefix("0b") {
        digits(rest, 2)
    } else if let Some(rest) = body.strip_prefix("0x") {
        digits(rest, 16)
    } else if let Some(rest) = body.strip_prefix('0') {
        digits(rest, 8)
    } else if first.is_ascii_digit() && body.contains(':') {
        let mut parts = body.split(':');
        let head = parts.next()?;
        let mut value = digits(head, 10)?;
        for part in parts {
            if part.is_empty() || part.len() > 2 || !part.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let d: u128 = part.parse().ok()?;
            if d > 59 {
                return None;
            }
            value = value.checked_mul(60)?.checked_add(d)?;
        }
        Some(value)
    } else if first.is_ascii_digit() {
        // Too many digits for u128 is still a number: written out below as a float.
        if body.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return Some(big_decimal(negative, body));
        }
        None
    } else {
        None
    }?;
    // Beyond 64 bits: the nearest float, as for a long decimal.
    Some(exact(negative, magnitude).map_or_else(|| big_decimal(negative, &magnitude.to_string()), Ok))
}

fn exact(negative: bool, magnitude: u128) -> Option<Number> {
    if negative {
        let value = i64::try_from(magnitude).ok()?;
        Some(Number::from(-value))
    } else {
        u64::try_from(magnitude).ok().map(Number::from)
    }
}

/// A decimal integer, exactly when it fits 64 bits, else the nearest float.
fn big_decimal(negative: bool, body: &str) -> Result<Number, ReadError> {
    let cleaned: String = body.chars().filter(|c| *c != '_').collect();
    if let Some(magnitude) = digits(&cleaned, 10)
        && let Some(number) = exact(negative, magnitude)
    {
        return Ok(number);
    }
    let sign = if negative { "-" } else { "" };
    let float: f64 = format!("{sign}{cleaned}").parse().map_err(|_| ReadError::NotFinite)?;
    Number::from_f64(float).ok_or(ReadError::NotFinite)
}

/// YAML 1.1 floats: a dot is required (`1.5`, `.5`, `1.`), an exponent must be signed
/// (`1.5e+3`), and `.inf`/`.nan` are not finite, which JSON cannot hold.
fn yaml11_float(text: &str) -> Option<Result<Number, ReadError>> {
    if matches!(text.trim_start_matches(['+', '-']), ".inf" | ".Inf" | ".INF")
        || matches!(text, ".nan" | ".NaN" | ".NAN")
    {
        return Some(Err(ReadError::NotFinite));
    }
    let (negative, body) = split_sign(text);
    if let Some(value) = sexagesimal_float(body) {
        let value = if negative { -value } else { value };
        return Some(Number::from_f64(value).ok_or(ReadError::NotFinite));
    }
    let shape = FloatShape::of(text)?;
    let fraction = shape.fraction?;
    let leading_dot = shape.whole.is_empty();
    let strict = if leading_dot {
        // `.5`: digits after the dot, and no sign before it.
        !fraction.is_empty() && !shape.signed
    } else {
        shape.whole.starts_with(|c: char| c.is_ascii_digit())
    };
    let signed_exponent = shape.exponent.is_none_or(|e| e.starts_with(['+', '-']));
    (strict && signed_exponent).then(|| float_number(text))
}

/// A number-like plain scalar split into its parts: `[sign] whole [. fraction] [e exponent]`,
/// where `whole` and `fraction` are digits and `_`, with at least one digit between them, and
/// the exponent is digits with an optional sign.
struct FloatShape<'a> {
    signed: bool,
    whole: &'a str,
    fraction: Option<&'a str>,
    exponent: Option<&'a str>,
}

impl<'a> FloatShape<'a> {
    fn of(text: &'a str) -> Option<Self> {
        let signed = text.starts_with(['+', '-']);
        let (_, body) = split_sign(text);
        let (mantissa, exponent) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (whole, fraction) = match mantissa.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (mantissa, None),
        };
        let digits_ok = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
        if !digits_ok(whole) || !fraction.is_none_or(digits_ok) || !mantissa.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        if let Some(exponent) = exponent {
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
        }
        Some(FloatShape { signed, whole, fraction, exponent })
    }
}

/// YAML 1.1's base-60 float: `190:20:30.15`.
fn sexagesimal_float(body: &str) -> Option<f64> {
    let (integral, fraction) = body.split_once('.')?;
    let mut parts = integral.split(':');
    let head = parts.next()?;
    if !head.starts_with(|c: char| c.is_ascii_digit()) || !head.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let mut value: f64 = head.replace('_', "").parse().ok()?;
    let mut any = false;
    for part in parts {
        if part.is_empty() || part.len() > 2 || !part.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let d: f64 = part.parse().ok()?;
        if d >= 60.0 {
            return None;
        }
        value = value * 60.0 + d;
        any = true;
    }
    if !any || !fraction.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let fraction: f64 = format!("0.{}", fraction.replace('_', "")).parse().ok()?;
    Some(value + fraction)
}

/// What lenient readers also take as a float: an exponent without a dot or sign (`1e3`,
/// `2.5E3`), a sign before a leading dot (`+.5`), digits that are no YAML 1.1 integer (`08`,
/// `0_901`, an account id written `012345678901`).
fn lenient_float(text: &str) -> Option<Result<Number, ReadError>> {
    FloatShape::of(text).map(|_| float_number(text))
}

fn float_number(text: &str) -> Result<Number, ReadError> {
    // Rust's float syntax takes `.5`, `5.` and a sign, as YAML writes them.
    let cleaned: String = text.chars().filter(|c| *c != '_').collect();
    let float: f64 = cleaned.parse().map_err(|_| ReadError::NotFinite)?;
    Number::from_f64(float).ok_or(ReadError::NotFinite)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(text: &str) -> Value {
        to_json(text).unwrap()
    }

    #[test]
    fn plain_scalars_are_read_as_yaml_1_1() {
        let document = read(
            "a: yes\nb: No\nc: ON\nd: off\ne: 010\nf: 0777\ng: 0x1F\nh: 0b101\ni: 1_000\nj: 1:30\nk: 1.5\nl: '010'\nm: \"on\"\nn: '012345678901'\no: 0o17\np: ~\nq: 2010-09-09\nr: -010\ns: 1.\nt: .5\nu: 15:01.5\n",
        );
        assert_eq!(
            document,
            json!({
                "a": true, "b": false, "c": true, "d": false, "e": 8, "f": 511, "g": 31, "h": 5, "i": 1000,
                "j": 90, "k": 1.5, "l": "010", "m": "on", "n": "012345678901", "o": "0o17", "p": null,
                "q": "2010-09-09", "r": -8, "s": 1.0, "t": 0.5, "u": 901.5
            })
        );
    }

    #[test]
    fn scalars_readers_disagree_on_keep_every_reading() {
        let document = read("a: y\nb: N\nc: yEs\nd: 1e3\ne: tRUE\n");
        let reading = |key: &str| readings_of(&document[key]).map(|(w, r)| (w.to_owned(), r.to_vec()));
        assert_eq!(reading("a"), Some(("y".into(), vec![json!(true), json!("y")])));
        assert_eq!(reading("b"), Some(("N".into(), vec![json!(false), json!("N")])));
        assert_eq!(reading("c"), Some(("yEs".into(), vec![json!(true), json!("yEs")])));
        assert_eq!(reading("d"), Some(("1e3".into(), vec![json!(1000.0), json!("1e3")])));
        assert_eq!(reading("e"), Some(("tRUE".into(), vec![json!(true), json!("tRUE")])));
        let document = read("a: 08\nb: 012345678901\nc: 0_901\n");
        let reading = |key: &str| readings_of(&document[key]).map(|(w, r)| (w.to_owned(), r.to_vec()));
        assert_eq!(reading("a"), Some(("08".into(), vec![json!(8.0), json!("08")])));
        assert_eq!(reading("b"), Some(("012345678901".into(), vec![json!(12345678901.0), json!("012345678901")])));
        assert_eq!(reading("c"), Some(("0_901".into(), vec![json!(901.0), json!("0_901")])));
        // The float forms YAML 1.1 defines are numbers; the ones only lenient readers take have
        // both readings.
        let document = read("a: 1.5e+3\nb: -.5e-1\nc: 1.0e3\nd: +.5\ne: -.5\n");
        assert_eq!(document["a"], json!(1500.0));
        assert_eq!(readings_of(&document["b"]).map(|(_, r)| r.to_vec()), Some(vec![json!(-0.05), json!("-.5e-1")]));
        for key in ["c", "d", "e"] {
            assert!(readings_of(&document[key]).is_some(), "{key}: {}", document[key]);
        }
    }

    #[test]
    fn keys_are_text_and_the_reserved_key_is_refused() {
        assert_eq!(read("on: 1\n010: 2\ny: 3\n'off': 4\n"), json!({"on": 1, "010": 2, "y": 3, "off": 4}));
        assert!(matches!(to_json("rcfge:YamlScalarReadings: 1\n"), Err(ReadError::ReservedKey { .. })));
        assert!(matches!(to_json("[a]: 1\n"), Err(ReadError::KeyNotAString { .. })));
    }

    #[test]
    fn aliases_are_copies_within_a_budget() {
        assert_eq!(read("a: &x {k: [1, 2]}\nb: *x\n"), json!({"a": {"k": [1, 2]}, "b": {"k": [1, 2]}}));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let previous = format!("*l{}", level - 1).replace("*l0", "*a");
            bomb.push_str(&format!("l{level}: &l{level} [{}]\n", vec![previous; 10].join(", ")));
        }
        assert!(matches!(to_json(&bomb), Err(ReadError::TooLarge { .. })));
        // Few values, each a long string copied many times.
        let long = format!(
            "s: &s {}\nl1: &l1 [{}]\nl2: [{}]\n",
            "x".repeat(40_000),
            ["*s"; 100].join(", "),
            ["*l1"; 100].join(", ")
        );
        assert!(matches!(to_json(&long), Err(ReadError::TooLarge { .. })));
    }

    #[test]
    fn depth_is_bounded_and_one_document_only() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(to_json(&deep), Err(ReadError::TooDeep { .. })));
        // Anchors of anchors: each level is shallow, the copies are thousands of levels deep.
        let mut chain = String::from("a0: &a0 [1]\n");
        for k in 1..100 {
            chain += &format!("a{k}: &a{k} {}*a{}{}\n", "[".repeat(100), k - 1, "]".repeat(100));
        }
        assert!(matches!(to_json(&chain), Err(ReadError::TooDeep { .. })));
        // Right up to the limit is read, through aliases and short forms alike.
        let edge = format!("a: &a {}1{}\nb: !If [c, *a, 2]\n", "[".repeat(100), "]".repeat(100));
        assert!(to_json(&edge).is_ok());
        let over = format!("a: &a {}1{}\nb: [[[[[[[[*a]]]]]]]]\n", "[".repeat(125), "]".repeat(125));
        assert!(matches!(to_json(&over), Err(ReadError::TooDeep { .. })));
        assert!(matches!(to_json("a: 1\n---\nb: 2\n"), Err(ReadError::Yaml(_))));
    }

    #[test]
    fn short_forms_take_their_argument_as_written() {
        assert_eq!(
            read("a: !Ref 010\nb: !GetAtt R.Arn\nc: !!str 010\n"),
            json!({
                "a": {"Ref": "010"}, "b": {"Fn::GetAtt": ["R", "Arn"]}, "c": "010"
            })
        );
    }
}
