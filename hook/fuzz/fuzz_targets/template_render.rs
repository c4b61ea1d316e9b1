//! Raw bytes as a restricted resource schema template: parsing and checking the template,
//! rendering its placeholders, compiling the schema (patterns included) and judging a
//! resource with it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rcfge::policy::{self, Policy};
use rcfge::template::Template;
use rcfge::{Action, Context};
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Ok(template) = Template::parse("Test::Fuzz::Type", "fuzz", data) else { return };
    let context = Context {
        account_id: Some("111122223333".into()),
        region: Some("eu-west-1".into()),
        partition: Some("aws".into()),
        stack_name: Some("payments".into()),
        ..Context::default()
    };
    let mut vars = context.variables("Test::Fuzz::Type", "Resource", Action::Create);
    vars.insert("organizationId".into(), json!("o-a1b2c3d4e5"));
    vars.insert("orgReadBuckets".into(), json!(["payments-receipts", "shared.logs"]));
    let Ok(schema) = template.render(&vars) else { return };
    let Ok(policy) = Policy::compile("Test::Fuzz::Type", "fuzz", schema) else { return };
    let properties =
        json!({"Name": "payments-receipts", "Enabled": "true", "Size": 5, "Tags": [{"Key": "a", "Value": "b"}]});
    let _ = policy::judge(&policy, None, "Test::Fuzz::Type", "Resource", properties);
});
