use super::*;

fn raw(kind: &str) -> RawField {
    RawField {
        id: "ticket".into(),
        label: "Ticket".into(),
        kind: kind.into(),
        required: false,
        hint: String::new(),
        pattern: None,
        max_length: None,
        options: Vec::new(),
    }
}

fn ticket() -> FormField {
    FormField::from_raw(&RawField {
        pattern: Some("^INC-[0-9]+$".into()),
        ..raw("text")
    })
    .expect("a valid field")
}

#[test]
fn a_text_field_with_a_pattern_accepts_only_matching_values() {
    let field = ticket();
    assert_eq!(
        field.check(Some(" INC-42 "), false),
        Ok(Some("INC-42".into()))
    );
    assert_eq!(
        field.check(Some("ticket 42"), false),
        Err("Ticket must match ^INC-[0-9]+$.".into())
    );
    assert_eq!(field.check(None, false), Ok(None));
    assert_eq!(field.check(Some("   "), false), Ok(None));
}

#[test]
fn a_field_required_by_the_catalog_or_by_policy_must_be_filled() {
    let field = ticket();
    let message = Err("Ticket is required for this access.".to_owned());
    assert_eq!(field.check(None, true), message);
    let required = FormField {
        required: true,
        ..ticket()
    };
    assert_eq!(required.check(Some(""), false), message);
}

#[test]
fn text_longer_than_its_maximum_is_refused() {
    let field = FormField::from_raw(&RawField {
        max_length: Some(5),
        ..raw("text")
    })
    .expect("valid");
    assert!(field.check(Some("123456"), false).is_err());
    assert_eq!(field.check(Some("12345"), false), Ok(Some("12345".into())));
}

#[test]
fn a_choice_accepts_only_its_options_and_a_date_only_a_calendar_date() {
    let choice = FormField::from_raw(&RawField {
        options: vec!["eu".into(), "us".into()],
        ..raw("choice")
    })
    .expect("valid");
    assert_eq!(choice.check(Some("eu"), false), Ok(Some("eu".into())));
    assert!(choice.check(Some("asia"), false).is_err());
    let date = FormField::from_raw(&raw("date")).expect("valid");
    assert_eq!(
        date.check(Some("2026-12-24"), false),
        Ok(Some("2026-12-24".into()))
    );
    assert!(date.check(Some("2026-02-30"), false).is_err());
    assert!(date.check(Some("tomorrow"), false).is_err());
}

#[test]
fn bad_declarations_are_refused_with_the_key_at_fault() {
    let keys = |field: RawField| -> Vec<&'static str> {
        FormField::from_raw(&field)
            .expect_err("refused")
            .into_iter()
            .map(|(key, _)| key)
            .collect()
    };
    assert_eq!(keys(raw("number")), ["kind"]);
    assert_eq!(
        keys(RawField {
            pattern: Some("(".into()),
            ..raw("text")
        }),
        ["pattern"]
    );
    assert_eq!(keys(raw("choice")), ["options"]);
    assert_eq!(
        keys(RawField {
            options: vec!["a".into(), "a".into()],
            ..raw("choice")
        }),
        ["options"]
    );
    assert_eq!(
        keys(RawField {
            pattern: Some("x".into()),
            ..raw("date")
        }),
        ["pattern"]
    );
    assert_eq!(
        keys(RawField {
            id: "Ticket No".into(),
            label: " ".into(),
            ..raw("text")
        }),
        ["id", "label"]
    );
    assert_eq!(
        keys(RawField {
            max_length: Some(0),
            ..raw("text")
        }),
        ["max_length"]
    );
}

#[test]
fn checking_a_form_keys_errors_by_block_id_and_ignores_unknown_values() {
    let region = FormField::from_raw(&RawField {
        id: "region".into(),
        label: "Region".into(),
        options: vec!["eu".into()],
        ..raw("choice")
    })
    .expect("valid");
    let fields = [ticket(), region];
    let entered = BTreeMap::from([
        ("ticket".to_owned(), "nope".to_owned()),
        ("other".to_owned(), "x".to_owned()),
    ]);
    let required = BTreeSet::from(["region".to_owned()]);
    let errors = check_all(&fields, &entered, &required).expect_err("two errors");
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        ["field_region", "field_ticket"]
    );
    let entered = BTreeMap::from([
        ("ticket".to_owned(), "INC-7".to_owned()),
        ("region".to_owned(), "eu".to_owned()),
        ("other".to_owned(), "x".to_owned()),
    ]);
    let values = check_all(&fields, &entered, &required).expect("valid");
    assert_eq!(well_formed(&fields, &entered), values);
    let half = BTreeMap::from([
        ("ticket".to_owned(), "nope".to_owned()),
        ("region".to_owned(), "eu".to_owned()),
    ]);
    assert_eq!(
        well_formed(&fields, &half),
        BTreeMap::from([("region".to_owned(), "eu".to_owned())])
    );
    assert_eq!(
        values,
        BTreeMap::from([
            ("region".to_owned(), "eu".to_owned()),
            ("ticket".to_owned(), "INC-7".to_owned())
        ])
    );
}
