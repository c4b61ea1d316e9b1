//! Where each node of a stack template is in its file, as `line:column`, by JSON pointer.
//!
//! Values come from the strict JSON/YAML readers (`read`, `yaml`); this index only locates
//! them. It is built from the YAML event stream (`saphyr-parser` reports a position for every
//! event), which reads JSON too, since JSON is YAML. A file it cannot read gets an empty index: findings then
//! point at the file alone, never at a wrong line.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, Tag};

use crate::decision::Position;
use crate::json::pointer_segment;

/// JSON pointer → position of the node (for an object member: of its key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Positions {
    by_pointer: HashMap<String, Position>,
}

enum Frame {
    Mapping { pointer: String, key: Option<String> },
    Sequence { pointer: String, next: usize },
}

impl Positions {
    /// Indexes a JSON or YAML document.
    pub fn index(text: &str) -> Self {
        let mut positions = Positions::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { return Positions::default() };
            let at = Position { line: span.start.line(), column: span.start.col() + 1 };
            match event {
                Event::Scalar(value, _, _, tag) => {
                    if let Some(Frame::Mapping { pointer, key: key @ None }) = stack.last_mut() {
                        let child = format!("{pointer}/{}", pointer_segment(&value));
                        positions.by_pointer.entry(child).or_insert(at);
                        *key = Some(value.into_owned());
                    } else if let Some(pointer) = next_child(&mut stack) {
                        if let Some(function) = tag.as_deref().and_then(function_of) {
                            positions
                                .by_pointer
                                .entry(format!("{pointer}/{}", pointer_segment(&function)))
                                .or_insert(at);
                        }
                        positions.by_pointer.entry(pointer).or_insert(at);
                    }
                }
                Event::Alias(_) => {
                    if let Some(pointer) = next_child(&mut stack) {
                        positions.by_pointer.entry(pointer).or_insert(at);
                    }
                }
                Event::MappingStart(_, ref tag) | Event::SequenceStart(_, ref tag) => {
                    let pointer = if stack.is_empty() { Some(String::new()) } else { next_child(&mut stack) };
                    // A collection used as a key cannot be addressed by a JSON pointer.
                    let pointer = pointer.unwrap_or_else(|| "/\u{0}".to_owned());
                    positions.by_pointer.entry(pointer.clone()).or_insert(at);
                    // `!If [...]` is `{"Fn::If": [...]}`: its items sit one level deeper.
                    let pointer = match tag.as_deref().and_then(function_of) {
                        Some(function) => {
                            let inner = format!("{pointer}/{}", pointer_segment(&function));
                            positions.by_pointer.entry(inner.clone()).or_insert(at);
                            inner
                        }
                        None => pointer,
                    };
                    stack.push(if matches!(event, Event::MappingStart(..)) {
                        Frame::Mapping { pointer, key: None }
                    } else {
                        Frame::Sequence { pointer, next: 0 }
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

    /// The position of `pointer`, or of its nearest ancestor that has one.
    pub fn find(&self, pointer: &str) -> Option<Position> {
        let mut pointer = pointer.trim_end_matches('/');
        loop {
            if let Some(position) = self.by_pointer.get(pointer) {
                return Some(*position);
            }
            pointer = &pointer[..pointer.rfind('/')?];
        }
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

    #[test]
    fn unreadable_text_gives_no_positions() {
        assert_eq!(Positions::index("a: [\n").find("/a"), None);
    }
}
