use super::*;
use crate::catalog::{Catalog, Source};

/// The production entitlement of a catalog whose form asks for a ticket (pattern),
/// a region (choice) and an end date.
fn form() -> Vec<FormField> {
    let text = r#"
[[spaces]]
id = "root"
name = "Root"

[[resources]]
id = "aws-prod"
name = "AWS production"
space = "root"

[[resources.entitlements]]
id = "admin"
name = "Admin"
max_duration = "4h"
provisioner = { kind = "manual", assignees = { users = ["U0BOB00001"] } }

[[resources.entitlements.fields]]
id = "ticket"
label = "Incident ticket"
kind = "text"
pattern = "^INC-[0-9]+$"

[[resources.entitlements.fields]]
id = "region"
label = "Region"
kind = "choice"
options = ["eu", "us"]
hint = "Where you will work"

[[resources.entitlements.fields]]
id = "until"
label = "Change window ends"
kind = "date"
required = true
"#;
    let catalog = Catalog::from_toml(Source {
        name: "catalog.toml",
        text,
    })
    .expect("a valid catalog");
    let resource = catalog.resource("aws-prod").expect("resource");
    resource.entitlements[0].fields.clone()
}

fn modal() -> Value {
    json!({"type": "modal", "blocks": [
        {"type": "input", "block_id": "resource"},
        {"type": "input", "block_id": "justification"},
        {"type": "input", "block_id": "on_behalf"},
    ]})
}

#[test]
fn fields_go_after_the_justification_with_their_kind_and_whether_they_are_required() {
    let mut view = modal();
    insert(&mut view, &form(), &BTreeSet::from(["region".to_owned()]));
    let blocks = view["blocks"].as_array().expect("blocks");
    let ids: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b["block_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "resource",
            "justification",
            "field_ticket",
            "field_region",
            "field_until",
            "on_behalf"
        ]
    );
    let (ticket, region, until) = (&blocks[2], &blocks[3], &blocks[4]);
    assert_eq!(ticket["element"]["type"], "plain_text_input");
    assert_eq!(ticket["element"]["action_id"], ACTION);
    assert_eq!(ticket["optional"], true);
    assert_eq!(ticket["label"]["text"], "Incident ticket");
    assert_eq!(region["element"]["type"], "static_select");
    assert_eq!(region["element"]["options"][1]["value"], "us");
    assert_eq!(region["optional"], false, "policy requires it");
    assert_eq!(region["hint"]["text"], "Where you will work");
    assert_eq!(until["element"]["type"], "datepicker");
    assert_eq!(until["optional"], false, "the catalog requires it");
}

#[test]
fn a_template_without_a_justification_gets_the_fields_at_the_end() {
    let mut view = json!({"type": "modal", "blocks": [{"type": "input", "block_id": "resource"}]});
    insert(&mut view, &form(), &BTreeSet::new());
    assert_eq!(view["blocks"][3]["block_id"], "field_until");
}

#[test]
fn card_lines_follow_the_catalog_order_escape_values_and_keep_fields_the_catalog_dropped() {
    let values = BTreeMap::from([
        ("until".to_owned(), "2026-12-24".to_owned()),
        ("ticket".to_owned(), "INC-1 <!here>".to_owned()),
        ("old".to_owned(), "kept".to_owned()),
    ]);
    assert_eq!(
        card_lines(&values, &form()).as_str(),
        "\n*Incident ticket:* INC-1 &lt;!here&gt;\n*Change window ends:* 2026-12-24\n*old:* kept"
    );
    assert_eq!(card_lines(&BTreeMap::new(), &form()).as_str(), "");
}
