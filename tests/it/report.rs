//! The reports of `rcfge validate` show what a stack template says without letting it write to
//! the terminal or break the document: a logical ID or property key holding a line break or an
//! escape sequence can neither fake a `PASS` line nor erase a `FAIL` line, nor make the JUnit XML
//! ill-formed.

use crate::support::{rcfge, temp_file};

/// A logical ID that would print a fake `PASS` line of its own.
const FAKE_PASS_ID: &str = "Evil\n  PASS  Fake (AWS::S3::Bucket)";
/// A property key that would move the cursor up and erase the `FAIL` line above.
const ERASING_KEY: &str = "Erase\u{1b}[1A\u{1b}[2K";

/// A property key with a bidi isolate (reorders what follows) and a C1 control (NEL).
const BIDI_KEY: &str = "Bidi\u{2066}\u{85}";

/// A JSON stack template with all three.
fn hostile_stack() -> tempfile::NamedTempFile {
    let stack = serde_json::json!({
        "Resources": {
            FAKE_PASS_ID: {"Type": "AWS::S3::Bucket", "Properties": {ERASING_KEY: true}},
            "Plain": {"Type": "AWS::ECR::Repository", "Properties": {BIDI_KEY: "\u{202e}\u{9b}2K\r"}}
        }
    });
    // serde_json writes the controls as \n and \u001b escapes, as a template author would.
    temp_file(".json", &serde_json::to_string_pretty(&stack).unwrap())
}

fn validate(format: &str, file: &tempfile::NamedTempFile) -> crate::support::Run {
    let path = file.path().to_str().unwrap();
    rcfge(&["validate", "--format", format, "--account-id", "111122223333", "--region", "eu-west-1", path])
}

/// The characters no template text may put on a terminal raw (C0 other than the report's own
/// line breaks, DEL, C1, bidi embeddings, overrides and isolates).
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| (c.is_control() && c != '\n') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect()
}

#[test]
fn the_text_report_shows_control_characters_as_escapes() {
    let stack = hostile_stack();
    let run = validate("text", &stack);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.bytes().all(|b| b >= 0x20 || b == b'\n'), "raw control bytes in\n{:?}", run.stdout);
    assert_eq!(raw_controls(&run.stdout), Vec::<char>::new(), "{:?}", run.stdout);
    for line in run.stdout.lines() {
        assert!(!line.trim_start().starts_with("PASS  Fake"), "a fake line: {line:?}");
    }
    // Shown, escaped, where the report names them.
    assert!(run.stdout.contains(r"Evil\n  PASS  Fake (AWS::S3::Bucket) (AWS::S3::Bucket)"), "{}", run.stdout);
    assert!(run.stdout.contains(r"Erase\u{1b}[1A\u{1b}[2K"), "{}", run.stdout);
    assert!(
        run.stdout.contains(r"/Bidi\u{2066}\u{85}: Bidi\u{2066}\u{85} is not an approved property"),
        "{}",
        run.stdout
    );
}

#[test]
fn the_junit_report_is_well_formed_xml_whatever_the_names() {
    let stack = hostile_stack();
    let run = validate("junit", &stack);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let xml = &run.stdout;
    // XML 1.0 allows no C0 control but tab, line feed and carriage return, not even as a
    // character reference.
    assert!(xml.bytes().all(|b| b >= 0x20 || b == b'\n'), "raw control bytes in\n{xml:?}");
    assert_eq!(raw_controls(xml), Vec::<char>::new(), "{xml:?}");
    for reference in xml.split("&#").skip(1) {
        let number = reference.split(';').next().unwrap();
        let code = if let Some(hex) = number.strip_prefix('x') {
            u32::from_str_radix(hex, 16).unwrap()
        } else {
            number.parse().unwrap()
        };
        assert!(matches!(code, 0x9 | 0xA | 0xD | 0x20..), "&#{number}; is not allowed in XML 1.0");
    }

    let mut reader = quick_xml::Reader::from_str(xml);
    let mut names = Vec::new();
    let mut failures = String::new();
    let mut in_failure = false;
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("not well-formed XML ({e}):\n{xml}")) {
            quick_xml::events::Event::Start(element) | quick_xml::events::Event::Empty(element) => {
                in_failure = element.name().as_ref() == b"failure";
                if element.name().as_ref() == b"testcase" {
                    for attribute in element.attributes() {
                        let attribute = attribute.unwrap();
                        if attribute.key.as_ref() == b"name" {
                            names.push(
                                attribute.normalized_value(quick_xml::XmlVersion::Explicit1_0).unwrap().into_owned(),
                            );
                        }
                    }
                }
            }
            quick_xml::events::Event::Text(text) if in_failure => {
                failures.push_str(&text.decode().unwrap());
            }
            quick_xml::events::Event::GeneralRef(reference) if in_failure => {
                let entity = reference.decode().unwrap();
                failures.push_str(quick_xml::escape::resolve_xml_entity(&entity).unwrap_or("?"));
            }
            quick_xml::events::Event::End(_) => in_failure = false,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert!(names.contains(&r"Evil\n  PASS  Fake (AWS::S3::Bucket) (AWS::S3::Bucket)".to_owned()), "{names:?}");
    assert!(names.contains(&"Plain (AWS::ECR::Repository)".to_owned()), "{names:?}");
    assert!(failures.contains(r"Erase\u{1b}[1A\u{1b}[2K"), "{failures:?}");
    assert!(failures.contains(r"Bidi\u{2066}\u{85}"), "{failures:?}");
}

#[test]
fn machine_reports_keep_the_exact_names() {
    let stack = hostile_stack();
    let json = validate("json", &stack);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let ids: Vec<&str> =
        report["files"][0]["resources"].as_array().unwrap().iter().map(|r| r["logicalId"].as_str().unwrap()).collect();
    assert!(ids.contains(&FAKE_PASS_ID), "{ids:?}");
    // JSON escapes every C0 control itself.
    assert!(json.stdout.bytes().all(|b| b >= 0x20 || b == b'\n'), "{:?}", json.stdout);

    let sarif = validate("sarif", &stack);
    let log: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    for result in log["runs"][0]["results"].as_array().unwrap() {
        let text = result["message"]["text"].as_str().unwrap();
        assert_eq!(raw_controls(text), Vec::<char>::new(), "{text:?}");
    }
}
