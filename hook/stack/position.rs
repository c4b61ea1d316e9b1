//! Where each node of a stack template is in its file, as `line:column`, by JSON pointer.
//!
//! Values come from the strict JSON/YAML readers (`read`, `yaml`); this index only locates
//! them. A YAML file's index is built from the YAML event stream (`saphyr-parser` reports a
//! position for every event). A JSON file's is built by [`index_json`], a scan of the text
//! that gives the same positions: JSON is YAML, but the YAML scanner holds every token of a
//! flow collection until it ends, and a JSON template is one flow collection (27 MB of tokens
//! for a 2 MB template, and most of the time of `rcfge validate`). A file that cannot be read
//! gets an empty index: findings then point at the file alone, never at a wrong line.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use saphyr_parser::{Event, Parser, Tag};

use crate::decision::Position;
use crate::json::pointer_segment;

/// JSON pointer → position of the node (for an object member: of its key).
type Index = HashMap<String, Position>;

/// How deep the index made up front goes: `/Resources/<LogicalId>`, every resource's own
/// position, which every report gives. The nodes below are indexed when one of them is first
/// asked for (a finding, a value left to deploy time): a compliant template never pays for
/// the pointers of all its values.
const UP_FRONT_DEPTH: usize = 2;

/// Where each node of a template is, by JSON pointer (for an object member: its key's).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Positions {
    /// The nodes at most [`UP_FRONT_DEPTH`] levels deep.
    up_front: Index,
    /// The text, to index every node the first time a deeper one is asked for.
    text: Option<Arc<str>>,
    every: OnceLock<Index>,
}

enum Frame {
    Mapping {
        pointer: String,
        key: Option<String>,
    },
    Sequence {
        pointer: String,
        next: usize,
    },
    /// A collection whose members are deeper than the index goes.
    Skipped,
}

/// The levels of a pointer (`""` 0, `/Resources` 1, `/Resources/A` 2).
fn depth(pointer: &str) -> usize {
    pointer.bytes().filter(|&b| b == b'/').count()
}

/// The frame for a collection at `pointer`: its members are indexed only within `limit`.
fn frame(pointer: String, mapping: bool, limit: usize) -> Frame {
    match (depth(&pointer) < limit, mapping) {
        (false, _) => Frame::Skipped,
        (true, true) => Frame::Mapping { pointer, key: None },
        (true, false) => Frame::Sequence { pointer, next: 0 },
    }
}

impl Positions {
    /// Indexes a JSON or YAML document: JSON when it starts with `{`, as `read` decides.
    pub fn index(text: &str) -> Self {
        Positions { up_front: index_text(text, UP_FRONT_DEPTH), text: Some(text.into()), every: OnceLock::new() }
    }

    /// The position of `pointer`, or of its nearest ancestor that has one.
    pub fn find(&self, pointer: &str) -> Option<Position> {
        let mut pointer = pointer.trim_end_matches('/');
        let index = match &self.text {
            Some(text) if depth(pointer) > UP_FRONT_DEPTH => self.every.get_or_init(|| index_text(text, usize::MAX)),
            _ => &self.up_front,
        };
        loop {
            if let Some(position) = index.get(pointer) {
                return Some(*position);
            }
            pointer = &pointer[..pointer.rfind('/')?];
        }
    }
}

/// The nodes of a JSON or YAML document at most `limit` levels deep.
fn index_text(text: &str, limit: usize) -> Index {
    if text.trim_start().starts_with('{') { index_json(text, limit) } else { index_yaml(text, limit) }
}

/// Indexes a document through the YAML event stream.
fn index_yaml(text: &str, limit: usize) -> Index {
    let mut positions = Index::new();
    let mut stack: Vec<Frame> = Vec::new();
    for item in Parser::new_from_str(text) {
        let Ok((event, span)) = item else { return Index::new() };
        let at = Position { line: span.start.line(), column: span.start.col() + 1 };
        match event {
            _ if matches!(stack.last(), Some(Frame::Skipped)) => match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => stack.push(Frame::Skipped),
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            },
            Event::Scalar(value, _, _, tag) => {
                if let Some(Frame::Mapping { pointer, key: key @ None }) = stack.last_mut() {
                    let child = format!("{pointer}/{}", pointer_segment(&value));
                    positions.entry(child).or_insert(at);
                    *key = Some(value.into_owned());
                } else if let Some(pointer) = next_child(&mut stack) {
                    if let Some(function) = tag.as_deref().and_then(function_of)
                        && depth(&pointer) < limit
                    {
                        positions.entry(format!("{pointer}/{}", pointer_segment(&function))).or_insert(at);
                    }
                    positions.entry(pointer).or_insert(at);
                }
            }
            Event::Alias(_) => {
                if let Some(pointer) = next_child(&mut stack) {
                    positions.entry(pointer).or_insert(at);
                }
            }
            Event::MappingStart(_, ref tag) | Event::SequenceStart(_, ref tag) => {
                let pointer = if stack.is_empty() { Some(String::new()) } else { next_child(&mut stack) };
                // A collection used as a key cannot be addressed by a JSON pointer.
                let pointer = pointer.unwrap_or_else(|| "/\u{0}".to_owned());
                positions.entry(pointer.clone()).or_insert(at);
                let mapping = matches!(event, Event::MappingStart(..));
                // `!If [...]` is `{"Fn::If": [...]}`: its items sit one level deeper.
                stack.push(match tag.as_deref().and_then(function_of) {
                    Some(_) if depth(&pointer) >= limit => Frame::Skipped,
                    Some(function) => {
                        let inner = format!("{pointer}/{}", pointer_segment(&function));
                        positions.entry(inner.clone()).or_insert(at);
                        frame(inner, mapping, limit)
                    }
                    None => frame(pointer, mapping, limit),
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    positions
}

/// Indexes a JSON document as [`index_yaml`] would, in one pass over its bytes and
/// without tokens: each node at its first character (a member at its key), lines broken at
/// `\n`, `\r\n` and `\r`, columns counted in characters. Text that is not JSON gets an empty
/// index (its values were refused by the JSON reader anyway).
fn index_json(text: &str, limit: usize) -> Index {
    let bytes = text.as_bytes();
    let mut positions = Index::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut lines = LineCounter::default();
    let mut at = 0;
    while at < bytes.len() {
        let start = at;
        match bytes[at] {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' => at += 1,
            open @ (b'{' | b'[') => {
                let position = lines.position(bytes, start);
                let pointer = if stack.is_empty() { Some(String::new()) } else { next_child(&mut stack) };
                let Some(pointer) = pointer else { return Index::new() };
                positions.entry(pointer.clone()).or_insert(position);
                match frame(pointer, open == b'{', limit) {
                    // Nothing inside is indexed: jump past its closing bracket.
                    Frame::Skipped => match collection_end(bytes, start) {
                        Some(end) => at = end,
                        None => return Index::new(),
                    },
                    opened => {
                        stack.push(opened);
                        at += 1;
                    }
                }
            }
            b'}' | b']' => {
                stack.pop();
                at += 1;
            }
            b'"' => {
                let Some(end) = string_end(bytes, start) else { return Index::new() };
                let position = lines.position(bytes, start);
                if let Some(Frame::Mapping { pointer, key: key @ None }) = stack.last_mut() {
                    let raw = &text[start + 1..end - 1];
                    // Escapes are decoded by the JSON reader, so the key is the one it read.
                    let name = if raw.contains('\\') {
                        match serde_json::from_str::<String>(&text[start..end]) {
                            Ok(name) => name,
                            Err(_) => return Index::new(),
                        }
                    } else {
                        raw.to_owned()
                    };
                    positions.entry(format!("{pointer}/{}", pointer_segment(&name))).or_insert(position);
                    *key = Some(name);
                } else if let Some(pointer) = next_child(&mut stack) {
                    positions.entry(pointer).or_insert(position);
                }
                at = end;
            }
            _ => {
                // A number, `true`, `false` or `null`: up to the next delimiter.
                if let Some(pointer) = next_child(&mut stack) {
                    positions.entry(pointer).or_insert(lines.position(bytes, start));
                }
                while at < bytes.len() && !matches!(bytes[at], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    at += 1;
                }
            }
        }
    }
    positions
}

/// The index just past the closing quote of the JSON string that opens at `open`.
fn string_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut at = open + 1;
    loop {
        at += memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        match bytes[at] {
            b'"' => return Some(at + 1),
            _ => at += 2,
        }
    }
}

/// The index just past the bracket that closes the collection opening at `open`, strings
/// skipped whole; `None` when the text ends first. Only the opening kind of bracket is
/// counted: in JSON each kind nests on its own (text that is not JSON has no index anyway).
fn collection_end(bytes: &[u8], open: usize) -> Option<usize> {
    let (opening, closing) = if bytes[open] == b'{' { (b'{', b'}') } else { (b'[', b']') };
    let mut depth = 0usize;
    let mut at = open;
    loop {
        at += memchr::memchr3(b'"', opening, closing, bytes.get(at..)?)?;
        match bytes[at] {
            b'"' => at = string_end(bytes, at)?,
            byte if byte == opening => {
                depth += 1;
                at += 1;
            }
            _ => {
                depth -= 1;
                at += 1;
                if depth == 0 {
                    return Some(at);
                }
            }
        }
    }
}

/// Lines and columns of byte offsets asked for in increasing order, counted from where the
/// previous one was (so a minified template on one line is not counted again per node).
#[derive(Default)]
struct LineCounter {
    /// The byte offset counted up to.
    offset: usize,
    /// 0-based line and character column of `offset`.
    line: usize,
    column: usize,
}

impl LineCounter {
    fn position(&mut self, bytes: &[u8], offset: usize) -> Position {
        // Offsets come in increasing order; one that does not is counted as no move at all.
        let passed = bytes.get(self.offset..offset).unwrap_or_default();
        // Without `\r`, lines end at `\n` only: count them, then the characters after the last.
        if memchr::memchr(b'\r', passed).is_none() {
            let mut after = passed;
            if let Some(last) = memchr::memrchr(b'\n', passed) {
                self.line += memchr::memchr_iter(b'\n', passed).count();
                self.column = 0;
                after = &passed[last + 1..];
            }
            self.column += after.iter().filter(|&&b| b & 0xC0 != 0x80).count();
            self.offset = offset;
            return Position { line: self.line + 1, column: self.column + 1 };
        }
        for at in self.offset..offset {
            match bytes[at] {
                b'\n' => (self.line, self.column) = (self.line + 1, 0),
                // `\r\n` is one break, at its `\n`; a lone `\r` is a break too.
                b'\r' if bytes.get(at + 1) != Some(&b'\n') => (self.line, self.column) = (self.line + 1, 0),
                b'\r' => {}
                // A UTF-8 continuation byte is part of the character before it.
                byte if byte & 0xC0 == 0x80 => {}
                _ => self.column += 1,
            }
        }
        self.offset = offset;
        Position { line: self.line + 1, column: self.column + 1 }
    }
}

/// The key of the intrinsic function a YAML short-form tag stands for (`!If` → `Fn::If`,
/// `!Ref` → `Ref`); `None` for the non-specific tag `!` and the core schema's tags.
fn function_of(tag: &Tag) -> Option<String> {
    if tag.handle != "!" || tag.suffix.is_empty() {
        return None;
    }
    Some(match tag.suffix.as_str() {
        "Ref" | "Condition" => tag.suffix.clone(),
        other => format!("Fn::{other}"),
    })
}

/// The pointer of the value that comes next in the innermost collection (a mapping value
/// after its key, or the next sequence item), advancing the collection.
fn next_child(stack: &mut [Frame]) -> Option<String> {
    match stack.last_mut()? {
        Frame::Mapping { pointer, key } => key.take().map(|k| format!("{pointer}/{}", pointer_segment(&k))),
        Frame::Sequence { pointer, next } => {
            *next += 1;
            Some(format!("{pointer}/{}", *next - 1))
        }
        Frame::Skipped => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn indexes_yaml_keys_values_and_items() {
        let text = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub '${A}-x'\n      Tags:\n        - Key: a\n          Value: b\n";
        let positions = Positions::index(text);
        assert_eq!(positions.find("/Resources/Bucket"), at(2, 3));
        assert_eq!(positions.find("/Resources/Bucket/Properties/BucketName"), at(5, 7));
        assert_eq!(positions.find("/Resources/Bucket/Properties/Tags/0"), at(7, 11));
        assert_eq!(positions.find("/Resources/Bucket/Properties/Tags/0/Value"), at(8, 11));
        assert_eq!(positions.find("/Resources/Bucket/Properties/Missing/Deeper"), at(4, 5), "nearest ancestor");
    }

    #[test]
    fn short_forms_are_one_level_deeper() {
        let text = "Resources:\n  Q:\n    Properties: !If\n      - C\n      - Tags: !Sub x\n      - {}\n";
        let positions = Positions::index(text);
        assert_eq!(positions.find("/Resources/Q/Properties/Fn::If/1/Tags"), at(5, 9));
        assert_eq!(positions.find("/Resources/Q/Properties/Fn::If/1/Tags/Fn::Sub"), at(5, 15));
        assert_eq!(positions.find("/Resources/Q/Properties/Fn::If/0"), at(4, 9));
    }

    #[test]
    fn indexes_json() {
        let text = "{\n  \"Resources\": {\n    \"Q\": {\"Type\": \"AWS::SQS::Queue\", \"Properties\": {\"A/B\": [1, {\"C\": 2}]}}\n  }\n}\n";
        let positions = Positions::index(text);
        assert_eq!(positions.find("/Resources/Q"), at(3, 5));
        assert_eq!(positions.find("/Resources/Q/Properties/A~1B/1/C"), at(3, 65));
    }

    /// The JSON scan gives what the YAML event stream gives, node for node.
    #[test]
    fn json_positions_are_those_of_the_yaml_reader() {
        let texts = [
            "{\n  \"Resources\": {\n    \"Q\": {\"Type\": \"AWS::SQS::Queue\", \"Properties\": {\"A/B\": [1, {\"C\": 2}]}}\n  }\n}\n",
            "{\"a\":[[],{},[1,2.5e3,-1],{\"b\":null,\"c\":true,\"d\":false}],\"e~\":\"x\"}",
            "{\r\n  \"\\u0052esources\": {\"k\\\"q\": \"v\\\\\", \"é\": [\"ü\", \"\\u00e9\"]},\r\n  \"n\": 1\r\n}",
            "  {\"a\": {\"b\": \"\u{1F600}\", \"c\": [ \"\u{00e9}\u{00e9}\" , {\"d\" :1}]}}",
            // Brackets and escaped quotes inside strings of collections that are skipped; a lone `\r`.
            "{\"a\": {\"b\": \"}]\\\"{[\", \"c\": [\"]\", {\"d\": \"{\"}, [[]]]},\r \"e\": [{\"f\": \"]\"}], \"g\": 1}",
        ];
        for text in texts {
            let yaml = index_yaml(text, usize::MAX);
            assert!(!yaml.is_empty(), "{text}");
            assert_eq!(index_json(text, usize::MAX), yaml, "{text}");
            for limit in 0..4 {
                assert_eq!(index_json(text, limit), index_yaml(text, limit), "{text} to depth {limit}");
            }
        }
        let mut pending = vec![std::path::PathBuf::from("tests")];
        let mut files = Vec::new();
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() && !path.ends_with("node_modules") {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "json") {
                    files.push(path);
                }
            }
        }
        assert!(files.len() > 100, "the fixtures are there");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            if !text.trim_start().starts_with('{') {
                continue;
            }
            let yaml = index_yaml(&text, usize::MAX);
            if !yaml.is_empty() {
                assert_eq!(index_json(&text, usize::MAX), yaml, "{}", file.display());
                assert_eq!(index_json(&text, UP_FRONT_DEPTH), index_yaml(&text, UP_FRONT_DEPTH), "{}", file.display());
            }
        }
    }

    /// What is indexed up front and what is indexed when first asked for find the same.
    #[test]
    fn every_node_is_found_up_front_or_later() {
        let yaml = "Resources:\n  Q:\n    Properties: !If\n      - C\n      - Tags: !Sub x\n      - {}\n  R: !Ref X\n";
        let json = "{\"Resources\": {\"Q\": {\"Properties\": {\"A\": [1, {\"B\": 2}]}}, \"R\": []}}";
        for text in [yaml, json] {
            let every = index_text(text, usize::MAX);
            let positions = Positions::index(text);
            assert!(positions.up_front.len() < every.len(), "{text}");
            for (pointer, position) in &every {
                assert_eq!(positions.find(pointer), Some(*position), "{pointer} in {text}");
            }
        }
    }

    #[test]
    fn unreadable_text_gives_no_positions() {
        assert_eq!(Positions::index("a: [\n").find("/a"), None);
    }
}
