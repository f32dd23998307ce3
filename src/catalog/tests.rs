//! Tests for loading, validating and querying the catalog.

use super::*;

fn parse(text: &str) -> Result<Catalog, CatalogError> {
    Catalog::from_toml(Source {
        name: "catalog.toml",
        text,
    })
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(_) => panic!("expected problems"),
        Err(CatalogError::Invalid(problems)) => problems.iter().map(Problem::to_string).collect(),
        Err(other) => panic!("expected validation problems, got {other}"),
    }
}

fn example() -> Catalog {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog.example.toml");
    Catalog::load_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

const TREE: &str = r#"
[[spaces]]
id = "root"
name = "Root"
[[spaces]]
id = "prod"
name = "Production"
parent = "root"
inherit = true
"#;

const ENTITLEMENT_TAIL: &str = r#"
[resources.entitlements.provisioner]
kind = "manual"
assignees = { users = ["U0CAROL001"] }
"#;

fn with_resource(entitlement: &str) -> String {
    format!(
        "{TREE}\n[[resources]]\nid = \"db\"\nname = \"DB\"\nspace = \"prod\"\nowners = [\"U0FRANK001\"]\n[[resources.entitlements]]\nid = \"ro\"\nname = \"RO\"\n{entitlement}\n{ENTITLEMENT_TAIL}"
    )
}

#[test]
fn the_shipped_example_loads_with_every_item() {
    let catalog = example();
    let ids: Vec<&str> = catalog.spaces().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["root", "prod", "dev"]);
    assert_eq!(catalog.resources().len(), 3);
    assert_eq!(catalog.entitlement_count(), 5);

    let admin = catalog.entitlement("aws-prod", "admin").expect("admin");
    assert_eq!(admin.steps.len(), 2);
    assert_eq!(admin.steps[1].require, Requirement::AtLeast(2));
    assert_eq!(admin.steps[1].approvers.groups[0].as_str(), "S0SECOPS01");
    assert_eq!(
        admin.steps[1].notify_channel.as_ref().map(SlackId::as_str),
        Some("C0SECURITY")
    );
    assert_eq!(admin.max_duration.to_string(), "4 h");

    let sandbox = catalog
        .entitlement("dev-sandbox", "readonly")
        .expect("sandbox");
    assert!(sandbox.steps.is_empty());
    assert_eq!(
        catalog.resource("orders-db").map(|r| r.name.as_str()),
        Some("Orders database")
    );
    assert!(catalog.resource("nope").is_none());
    assert!(catalog.entitlement("aws-prod", "nope").is_none());
}

#[test]
fn ancestors_run_from_parent_to_root() {
    let catalog = parse(&format!(
        "{TREE}\n[[spaces]]\nid = \"prod-eu\"\nname = \"EU\"\nparent = \"prod\"\n"
    ))
    .expect("valid");
    let ancestors: Vec<&str> = catalog
        .ancestors("prod-eu")
        .expect("known")
        .iter()
        .map(Id::as_str)
        .collect();
    assert_eq!(ancestors, ["prod", "root"]);
    assert_eq!(catalog.ancestors("root").map(<[Id]>::len), Some(0));
    assert!(catalog.ancestors("nope").is_none());
}

#[test]
fn spaces_for_policy_carry_labels_parents_and_ancestors() {
    let spaces = example().spaces_for_policy();
    let dev = spaces.iter().find(|s| s.id == "dev").expect("dev");
    assert_eq!(
        *dev,
        PolicySpace {
            id: "dev".into(),
            name: "Development".into(),
            labels: vec!["dev".into()],
            parent: Some("root".into()),
            inherit: true,
            ancestors: vec!["root".into()],
        }
    );
    let json = serde_json::to_value(&spaces[0]).expect("serializes");
    assert_eq!(json["parent"], serde_json::Value::Null);
}

#[test]
fn search_matches_ids_and_names_case_insensitively_on_both_levels() {
    let catalog = example();
    let found = |q: &str| -> Vec<String> {
        catalog
            .search(q, 100)
            .iter()
            .map(|(r, e)| Catalog::option_value(r, e))
            .collect()
    };
    assert_eq!(found("AWS prod"), ["aws-prod:readonly", "aws-prod:admin"]);
    assert_eq!(found("orders WRITE"), ["orders-db:readwrite"]);
    assert_eq!(found("readonly").len(), 3);
    assert_eq!(found("").len(), 5);
    assert_eq!(found("sandbox read"), ["dev-sandbox:readonly"]);
    assert!(found("kubernetes").is_empty());
    assert_eq!(catalog.search("", 2).len(), 2);
}

#[test]
fn option_values_read_back_only_what_the_catalog_holds() {
    let catalog = example();
    let (r, e) = catalog.from_option_value("aws-prod:admin").expect("known");
    assert_eq!((r.id.as_str(), e.id.as_str()), ("aws-prod", "admin"));
    for bad in [
        "aws-prod",
        "aws-prod:",
        ":admin",
        "aws-prod:nope",
        "x:y:z",
        "",
    ] {
        assert!(catalog.from_option_value(bad).is_none(), "{bad}");
    }
}

#[test]
fn a_synthetic_catalog_of_500_entitlements_is_searchable() {
    let catalog = Catalog::synthetic(500);
    assert_eq!(catalog.entitlement_count(), 500);
    assert_eq!(catalog.resources().len(), 100);
    assert_eq!(catalog.search("", 1000).len(), 500);
    // 10 "Orders database" resources with 5 entitlements each.
    assert_eq!(catalog.search("orders", 1000).len(), 50);
    assert_eq!(catalog.search("orders 007 admin", 1000).len(), 1);
    assert_eq!(catalog.search("readonly", 100).len(), 100);
    assert_eq!(Catalog::synthetic(7).entitlement_count(), 7);
}

#[test]
fn an_empty_document_is_an_empty_catalog() {
    let catalog = parse("").expect("empty is fine");
    assert!(catalog.is_empty());
    assert!(Catalog::default().is_empty());
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let err = parse(&format!("{TREE}colour = \"red\"\n"))
        .map(drop)
        .expect_err("unknown key")
        .to_string();
    assert!(err.starts_with("catalog.toml:10: invalid catalog: unknown field `colour`, expected one of `id`, `name`, `parent`, `inherit`, `labels`"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once_with_item_field_and_line() {
    let text = r#"
[[spaces]]
id = "root"
name = "Root"
[[spaces]]
id = "Prod"
name = "Production"
parent = "nowhere"
[[resources]]
id = "db"
name = "DB"
space = "missing"
[[resources.entitlements]]
id = "ro"
name = "RO"
default_duration = "9h"
max_duration = "8h"
"#;
    assert_eq!(
        problems(text),
        [
            "catalog.toml:6: space 'Prod': id: 'Prod' is not an id: use lowercase letters, digits, '-' and '_', starting with a letter or digit",
            "catalog.toml:8: space 'Prod': parent: no space has id 'nowhere'",
            "catalog.toml:12: resource 'db': space: no space has id 'missing'",
            "catalog.toml:16: resource 'db' entitlement 'ro': default_duration: 9 h is longer than max_duration (8 h)",
            "catalog.toml:14: resource 'db' entitlement 'ro': provisioner: missing: add [..entitlements.provisioner] with kind = \"manual\" and assignees",
        ]
    );
    let err = parse(text).map(drop).expect_err("invalid").to_string();
    assert!(
        err.starts_with("invalid catalog, 5 problems: catalog.toml:6: "),
        "{err}"
    );
}

#[test]
fn duplicate_ids_name_the_first_use() {
    let text = format!("{TREE}[[spaces]]\nid = \"prod\"\nname = \"Again\"\nparent = \"root\"\n");
    assert_eq!(
        problems(&text),
        ["catalog.toml:11: space 'prod': id: duplicate id: already used on line 6"]
    );
}

#[test]
fn there_must_be_exactly_one_root() {
    let two = format!("{TREE}[[spaces]]\nid = \"other\"\nname = \"Other\"\n");
    assert_eq!(
        problems(&two),
        ["catalog.toml:11: space 'other': parent: a second root space ('root' is already the root): give it a parent"]
    );
    let none = "[[spaces]]\nid = \"a\"\nname = \"A\"\nparent = \"b\"\n[[spaces]]\nid = \"b\"\nname = \"B\"\nparent = \"a\"\n";
    assert_eq!(
        problems(none),
        [
            "catalog.toml: spaces: parent: no root space: exactly one space must have no parent",
            "catalog.toml:4: space 'a': parent: spaces form a cycle: a → b → a",
        ]
    );
}

#[test]
fn a_cycle_below_the_root_is_reported_once() {
    let text = format!(
        "{TREE}[[spaces]]\nid = \"x\"\nname = \"X\"\nparent = \"z\"\n[[spaces]]\nid = \"y\"\nname = \"Y\"\nparent = \"x\"\n[[spaces]]\nid = \"z\"\nname = \"Z\"\nparent = \"y\"\n"
    );
    assert_eq!(
        problems(&text),
        ["catalog.toml:13: space 'x': parent: spaces form a cycle: x → z → y → x"]
    );
}

#[test]
fn max_duration_must_parse_and_permanent_must_be_allowed() {
    let bad = with_resource("max_duration = \"8 hours\"\n");
    assert_eq!(
        problems(&bad),
        ["catalog.toml:19: resource 'db' entitlement 'ro': max_duration: '8 hours' is not a duration: use a number and a unit, e.g. 30m, 4h, 1h30m, 2d"]
    );
    let permanent = with_resource("max_duration = \"permanent\"\n");
    assert_eq!(
        problems(&permanent),
        ["catalog.toml:19: resource 'db' entitlement 'ro': max_duration: \"permanent\" needs permanent_allowed = true"]
    );
    let allowed = with_resource("max_duration = \"permanent\"\npermanent_allowed = true\n");
    let catalog = parse(&allowed).expect("valid");
    let ro = catalog.entitlement("db", "ro").expect("ro");
    assert_eq!(ro.max_duration, MaxDuration::Permanent);
    assert_eq!(ro.default_duration.to_string(), "1 h");
}

#[test]
fn a_missing_default_is_one_hour_or_the_shorter_maximum() {
    let catalog = parse(&with_resource("max_duration = \"30m\"\n")).expect("valid");
    let ro = catalog.entitlement("db", "ro").expect("ro");
    assert_eq!(ro.default_duration.to_string(), "30 min");
}

#[test]
fn steps_need_approvers_and_a_reachable_quorum() {
    let step = |body: &str| {
        with_resource(&format!(
            "max_duration = \"8h\"\n[[resources.entitlements.steps]]\n{body}\n"
        ))
    };
    assert_eq!(
        problems(&step("name = \"Nobody\"")),
        ["catalog.toml:20: resource 'db' entitlement 'ro' step 1: approvers: has no approvers: name users, groups, or set resource_owners = true"]
    );
    assert_eq!(
        problems(&step("approvers = { users = [\"U0BOB00001\"], resource_owners = true }\nrequire = { at_least = 3 }")),
        ["catalog.toml:22: resource 'db' entitlement 'ro' step 1: require.at_least: needs 3 approvals but only 2 approver(s) are named"]
    );
    assert_eq!(
        problems(&step("approvers = { users = [\"U0BOB00001\"] }\nrequire = \"most\"")),
        ["catalog.toml:22: resource 'db' entitlement 'ro' step 1: require: 'most' is not a requirement: use \"any\", \"all\" or { at_least = N }"]
    );
    assert_eq!(
        problems(&step("approvers = { users = [\"bob\"] }\nnotify_channel = \"#security\"")),
        [
            "catalog.toml:21: resource 'db' entitlement 'ro' step 1: approvers.users: 'bob' is not a Slack user id such as U0BOB00001",
            "catalog.toml:21: resource 'db' entitlement 'ro' step 1: approvers: has no approvers: name users, groups, or set resource_owners = true",
            "catalog.toml:22: resource 'db' entitlement 'ro' step 1: notify_channel: '#security' is not a Slack channel id such as C0SECURITY",
        ]
    );
    // Group sizes are only known at run time.
    let groups = parse(&step(
        "approvers = { groups = [\"S0SECOPS01\"] }\nrequire = { at_least = 5 }",
    ))
    .expect("valid");
    let ro = groups.entitlement("db", "ro").expect("ro");
    assert_eq!(ro.steps[0].name, "Step 1");
    assert_eq!(ro.steps[0].require, Requirement::AtLeast(5));
}

#[test]
fn provisioners_need_a_known_kind_and_assignees() {
    let text =
        with_resource("max_duration = \"8h\"\n").replace("kind = \"manual\"", "kind = \"ldap\"");
    assert_eq!(
        problems(&text),
        ["catalog.toml:22: resource 'db' entitlement 'ro': provisioner.kind: 'ldap' is not a provisioner kind (expected manual, webhook or command)"]
    );
    let empty = with_resource("max_duration = \"8h\"\n").replace(
        "assignees = { users = [\"U0CAROL001\"] }",
        "assignees = { users = [] }",
    );
    assert_eq!(
        problems(&empty),
        ["catalog.toml:22: resource 'db' entitlement 'ro': provisioner.assignees: is empty: name the users or groups who grant this access"]
    );
}

#[test]
fn duration_choices_stop_at_the_tighter_maximum() {
    let catalog = example();
    let readonly = catalog
        .entitlement("aws-prod", "readonly")
        .expect("readonly");
    let shown = |cap: Option<AccessDuration>| -> Vec<String> {
        readonly
            .duration_choices(cap)
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    assert_eq!(
        shown(None),
        ["15 min", "30 min", "1 h", "2 h", "4 h", "8 h"]
    );
    let three_hours = AccessDuration::parse("3h").ok();
    assert_eq!(
        shown(three_hours),
        ["15 min", "30 min", "1 h", "2 h", "3 h"]
    );
    assert_eq!(
        readonly
            .initial_duration(AccessDuration::parse("30m").ok())
            .to_string(),
        "30 min"
    );
    let permanent = parse(&with_resource(
        "max_duration = \"permanent\"\npermanent_allowed = true\n",
    ))
    .expect("valid");
    let ro = permanent.entitlement("db", "ro").expect("ro");
    assert_eq!(
        ro.duration_choices(None).last(),
        Some(&RequestedDuration::Permanent)
    );
    assert!(!ro
        .duration_choices(three_hours)
        .contains(&RequestedDuration::Permanent));
}

fn with_provisioner(settings: &str) -> String {
    with_resource("max_duration = \"8h\"\n").replace("kind = \"manual\"", settings)
}

#[test]
fn a_webhook_provisioner_reads_its_url_secret_variable_and_timing() {
    let catalog = parse(&with_provisioner(
        "kind = \"webhook\"\nurl = \"https://iam.example/c1bot\"\nsecret_env = \"HOOK_KEY\"\ntimeout = \"2500ms\"\nretries = 1\nretry_backoff = \"2s\"",
    ))
    .expect("valid");
    let provisioner = &catalog.entitlement("db", "ro").expect("ro").provisioner;
    assert_eq!(
        provisioner.assignees.users.len(),
        1,
        "the fallback assignees"
    );
    assert_eq!(
        provisioner.automatic,
        Some(Automatic::Webhook(WebhookSpec {
            url: "https://iam.example/c1bot".into(),
            secret_env: "HOOK_KEY".into(),
            timeout: std::time::Duration::from_millis(2500),
            retries: 1,
            retry_backoff: std::time::Duration::from_secs(2),
        }))
    );
}

#[test]
fn a_command_provisioner_has_defaults_for_its_timing() {
    let catalog = parse(&with_provisioner(
        "kind = \"command\"\nprogram = \"/usr/local/bin/grant\"\nargs = [\"--prod\"]",
    ))
    .expect("valid");
    let Some(Automatic::Command(command)) = &catalog
        .entitlement("db", "ro")
        .expect("ro")
        .provisioner
        .automatic
    else {
        panic!("a command provisioner");
    };
    assert_eq!(command.program, "/usr/local/bin/grant");
    assert_eq!(command.args, ["--prod"]);
    assert_eq!(
        Automatic::Command(command.clone()).timing(),
        (
            std::time::Duration::from_secs(10),
            3,
            std::time::Duration::from_secs(1)
        )
    );
}

#[test]
fn bad_automatic_provisioner_settings_are_each_reported() {
    assert_eq!(
        problems(&with_provisioner("kind = \"webhook\"\nurl = \"ftp://x\"\ntimeout = \"1h\"\nretries = 11\nprogram = \"/bin/true\"")),
        [
            "catalog.toml:22: resource 'db' entitlement 'ro': provisioner.program: is not a setting of a webhook provisioner",
            "catalog.toml:22: resource 'db' entitlement 'ro': provisioner.timeout: '1h' is not a duration from 1ms to 10m (write it like 500ms, 10s or 2m)",
            "catalog.toml:22: resource 'db' entitlement 'ro': provisioner.retries: must be between 0 and 10 (retries after the first attempt), got 11",
            "catalog.toml:22: resource 'db' entitlement 'ro': provisioner.url: must be an http or https URL, not ftp:",
            "catalog.toml:22: resource 'db' entitlement 'ro': provisioner.secret_env: missing: the environment variable holding the HMAC key requests are signed with (the key itself never goes in the catalog)",
        ]
    );
    assert_eq!(
        problems(&with_provisioner("kind = \"manual\"\nurl = \"https://x\"")),
        ["catalog.toml:22: resource 'db' entitlement 'ro': provisioner.url: is not a setting of a manual provisioner"]
    );
    assert_eq!(
        problems(&with_provisioner("kind = \"command\"")),
        ["catalog.toml:22: resource 'db' entitlement 'ro': provisioner.program: missing: the program c1bot runs with the grant or revoke on stdin"]
    );
}

#[test]
fn standing_members_are_read_as_slack_user_ids() {
    let catalog = parse(&with_resource(
        "max_duration = \"8h\"\nmembers = [\"U0DAVE0001\", \"W0ERIN0001\"]",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let ro = catalog.entitlement("db", "ro").expect("ro");
    let members: Vec<&str> = ro.members.iter().map(SlackId::as_str).collect();
    assert_eq!(members, ["U0DAVE0001", "W0ERIN0001"]);
}

#[test]
fn members_default_to_none() {
    let catalog = parse(&with_resource("max_duration = \"8h\"")).unwrap_or_else(|e| panic!("{e}"));
    assert!(catalog
        .entitlement("db", "ro")
        .expect("ro")
        .members
        .is_empty());
}

#[test]
fn a_member_that_is_not_a_user_id_is_reported_at_its_line() {
    assert_eq!(
        problems(&with_resource(
            "max_duration = \"8h\"\nmembers = [\n  \"U0DAVE0001\",\n  \"dave\",\n  \"S0SECOPS01\",\n]"
        )),
        [
            "catalog.toml:22: resource 'db' entitlement 'ro': members: 'dave' is not a Slack user id such as U0BOB00001",
            "catalog.toml:23: resource 'db' entitlement 'ro': members: 'S0SECOPS01' is not a Slack user id such as U0BOB00001",
        ]
    );
}
