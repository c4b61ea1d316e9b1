//! What `rcfge hook invoke` and `rcfge hook serve-events` print besides the hook's own JSON:
//! the table of replayed events, their decision records, and the exit code of an answer.

use crate::lambda::Replayed;
use crate::lambda::response::{ErrorCode, HookResponse, HookStatus};
use crate::report::shorten_line;

/// The exit code of a hook answer: 0 SUCCESS, 1 FAILED/NonCompliant, 2 FAILED/InternalFailure.
pub fn exit_code(response: &HookResponse) -> u8 {
    match (response.hook_status, response.error_code) {
        (HookStatus::Success, _) => 0,
        (HookStatus::Failed, Some(ErrorCode::NonCompliant)) => 1,
        (HookStatus::Failed, _) => 2,
    }
}

/// The decision records of the answers, one JSON line each, as the function logs them by
/// default (with the time of the replay).
pub fn records(replayed: &[Replayed]) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let millis = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
    replayed.iter().map(|r| format!("{}\n", r.answer.record.emf(millis, crate::lambda::Metrics::default()))).collect()
}

/// The worst exit code of the answers (0 when there are none).
pub fn worst_exit_code(replayed: &[Replayed]) -> u8 {
    replayed.iter().map(|r| exit_code(&r.answer.response)).max().unwrap_or(0)
}

/// One line of the table.
struct EventRow {
    event: String,
    resource: String,
    answer: String,
    latency_us: u64,
    message: String,
}

impl EventRow {
    fn new(replayed: &Replayed) -> Self {
        let record = &replayed.answer.record;
        let response = &replayed.answer.response;
        let resource = match (&record.logical_id, &record.type_name) {
            (Some(id), Some(type_name)) => format!("{id} ({type_name})"),
            _ => "-".to_owned(),
        };
        let answer = match response.error_code {
            Some(code) => format!("FAILED/{code:?}"),
            None => "SUCCESS".to_owned(),
        };
        let message = shorten_line(&response.message, 100);
        EventRow { event: replayed.event.clone(), resource, answer, latency_us: record.latency_us, message }
    }
}

/// One line per event: the event file, the resource, the answer, its latency and message.
pub fn table(replayed: &[Replayed]) -> String {
    let rows: Vec<EventRow> = replayed.iter().map(EventRow::new).collect();
    let width = |field: fn(&EventRow) -> &str, title: &str| {
        rows.iter().map(|r| field(r).chars().count()).max().unwrap_or(0).max(title.len())
    };
    let e = width(|r| &r.event, "EVENT");
    let r = width(|r| &r.resource, "RESOURCE");
    let a = width(|r| &r.answer, "ANSWER");
    let mut out = format!("{:e$}  {:r$}  {:a$}  {:>10}  MESSAGE\n", "EVENT", "RESOURCE", "ANSWER", "LATENCY_US");
    for row in &rows {
        let line = format!(
            "{:e$}  {:r$}  {:a$}  {:>10}  {}",
            row.event, row.resource, row.answer, row.latency_us, row.message
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
