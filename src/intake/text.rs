//! Slack message text as people read it: words with their positions, `for <@U…>`
//! taken out, where a reason starts, and the text turned plain.
//!
//! Slack sends `&`, `<` and `>` escaped, and wraps mentions, channel references,
//! `<!channel>` and links in angle brackets. A bracket group is one unit here (its
//! label may hold spaces or colons), and [`plain`] turns it into what a person saw
//! (`@bob`, `#general`, `@channel`, `label (url)`), so that a reason stored as plain
//! text can never ping anyone once the caller escapes it for display.

use std::ops::Range;

use crate::catalog::{SlackId, SlackIdKind};

/// Slack caps a message at 40,000 characters; anything longer is not from Slack and
/// is cut so that every step stays linear in a small input.
const MAX_INPUT_CHARS: usize = 50_000;

pub(super) fn cap_input(text: &str) -> &str {
    match text.char_indices().nth(MAX_INPUT_CHARS) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// At most `max` characters of `text` on one line, controls blanked, `…` when cut.
pub(super) fn preview(text: &str, max: usize) -> String {
    let flat: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Where the bracket group opening at `start` (a `<`) ends (its `>`), if it is one:
/// a `<` with no `>` before the next `<` or line break is a plain character.
fn group_end(raw: &str, start: usize) -> Option<usize> {
    let after = start + 1;
    let rest = raw.get(after..)?;
    let stop = rest.find(['>', '<', '\n'])?;
    rest[stop..].starts_with('>').then_some(after + stop)
}

/// Whitespace-separated tokens of raw Slack text, a bracket group never split.
pub(super) fn raw_tokens(raw: &str) -> Vec<Range<usize>> {
    let mut tokens = Vec::new();
    let mut start: Option<usize> = None;
    let mut i = 0;
    while let Some(c) = raw[i..].chars().next() {
        if c == '<' {
            if let Some(end) = group_end(raw, i) {
                start.get_or_insert(i);
                i = end + 1;
                continue;
            }
        }
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                tokens.push(s..i);
            }
        } else {
            start.get_or_insert(i);
        }
        i += c.len_utf8();
    }
    if let Some(s) = start {
        tokens.push(s..raw.len());
    }
    tokens
}

/// The text with `for <@U…>` (or a typed `for @name`) taken out.
#[derive(Debug, Default)]
pub(super) struct ForMention {
    pub on_behalf_of: Option<String>,
    pub unresolved: Option<String>,
    pub rest: String,
}

/// Takes out the first `for` followed by a person. A typed `@name` that is not a
/// user id is kept as `unresolved`: it names somebody, just not in a way we can trust.
pub(super) fn take_for_mention(raw: &str) -> ForMention {
    let tokens = raw_tokens(raw);
    for pair in tokens.windows(2) {
        let (word, next) = (&pair[0], &pair[1]);
        if lower(clean(&raw[word.clone()])) != "for" {
            continue;
        }
        let next_text = &raw[next.clone()];
        let mut found = ForMention::default();
        if let Some(id) = mention_id(next_text) {
            found.on_behalf_of = Some(id);
        } else {
            let typed = clean(next_text);
            let Some(name) = typed.strip_prefix('@').filter(|n| !n.is_empty()) else {
                continue;
            };
            match SlackId::parse(name, SlackIdKind::User) {
                Ok(id) => found.on_behalf_of = Some(id.to_string()),
                Err(_) => found.unresolved = Some(typed.to_owned()),
            }
        }
        found.rest = format!("{} {}", &raw[..word.start], &raw[next.end..]);
        return found;
    }
    ForMention {
        rest: raw.to_owned(),
        ..ForMention::default()
    }
}

/// The user id of a token that is a user mention, `<@U123>` or `<@U123|bob>`.
fn mention_id(token: &str) -> Option<String> {
    let inner = token.strip_prefix("<@")?;
    let inner = &inner[..inner.find('>')?];
    let id = inner.split('|').next().unwrap_or(inner);
    SlackId::parse(id, SlackIdKind::User)
        .ok()
        .map(|id| id.to_string())
}

/// Where a reason is introduced: `because`, `for reason`, a `:` ending a word, or a
/// lone dash. Each as (marker start, reason start), in text order.
pub(super) fn reason_markers(raw: &str) -> Vec<(usize, usize)> {
    let tokens = raw_tokens(raw);
    let mut markers = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let text = &raw[token.clone()];
        let word = lower(clean(text));
        if word == "because" {
            markers.push((token.start, token.end));
        } else if word == "for" {
            if let Some(next) = tokens.get(i + 1) {
                if lower(clean(&raw[next.clone()])) == "reason" {
                    markers.push((token.start, next.end));
                }
            }
        } else if matches!(text, "-" | "--" | "–" | "—") {
            markers.push((token.start, token.end));
        } else if text.ends_with(':') && !is_emoji_code(text) {
            markers.push((token.end - 1, token.end));
        }
    }
    markers
}

/// `:fire:`, which ends in a colon without introducing anything.
fn is_emoji_code(token: &str) -> bool {
    token.len() > 2
        && token.starts_with(':')
        && token[1..token.len() - 1]
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '+'))
}

/// Raw Slack text as a person saw it: bracket groups rendered, `&amp;`, `&lt;` and
/// `&gt;` decoded, control characters other than line breaks and tabs blanked.
pub(super) fn plain(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut literal_from = 0;
    let mut i = 0;
    while let Some(c) = raw[i..].chars().next() {
        if c == '<' {
            if let Some(end) = group_end(raw, i) {
                push_literal(&mut out, &raw[literal_from..i]);
                out.push_str(&render_group(&raw[i + 1..end]));
                i = end + 1;
                literal_from = i;
                continue;
            }
        }
        i += c.len_utf8();
    }
    push_literal(&mut out, &raw[literal_from..]);
    out
}

fn push_literal(out: &mut String, literal: &str) {
    let decoded = literal
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    out.extend(decoded.chars().map(|c| {
        if c.is_control() && c != '\n' && c != '\t' {
            ' '
        } else {
            c
        }
    }));
}

/// What Slack shows for `<…>`: `@bob`, `#general`, `@channel`, `label (url)`.
fn render_group(inner: &str) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((target, label)) => (target, Some(label)),
        None => (inner, None),
    };
    let mut out = String::new();
    if let Some(id) = target.strip_prefix('@') {
        out.push('@');
        out.push_str(label.map_or(id, |l| l.trim_start_matches('@')));
    } else if let Some(id) = target.strip_prefix('#') {
        out.push('#');
        out.push_str(label.unwrap_or(id));
    } else if let Some(special) = target.strip_prefix('!') {
        match label {
            // `<!subteam^S1|@team>`, `<!date^…|fallback>`: Slack shows the label.
            Some(label) => out.push_str(label),
            None => {
                out.push('@');
                out.push_str(special.split('^').next().unwrap_or(special));
            }
        }
    } else {
        match label {
            Some(label) => {
                out.push_str(label);
                out.push_str(" (");
                out.push_str(target);
                out.push(')');
            }
            None => out.push_str(target),
        }
    }
    let mut plain = String::new();
    push_literal(&mut plain, &out);
    plain
}

/// A word of plain text: where it starts there, its cleaned text and lowercase key.
#[derive(Debug, Clone)]
pub(super) struct Word {
    pub start: usize,
    pub text: String,
    pub key: String,
}

/// The words of plain text; punctuation and mrkdwn around a word are dropped
/// (`*aws-prod*,` is `aws-prod`), words that are nothing but punctuation too.
pub(super) fn words(plain: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut push = |s: usize, e: usize| {
        let text = clean(&plain[s..e]);
        if !text.is_empty() {
            out.push(Word {
                start: s,
                key: lower(text),
                text: text.to_owned(),
            });
        }
    };
    for (i, c) in plain.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                push(s, i);
            }
        } else {
            start.get_or_insert(i);
        }
    }
    if let Some(s) = start {
        push(s, plain.len());
    }
    out
}

const LEADING: &[char] = &[
    '"', '\'', '“', '”', '‘', '’', '(', '[', '{', '*', '_', '~', '`', '«', '>',
];
const TRAILING: &[char] = &[
    '"', '\'', '“', '”', '‘', '’', ')', ']', '}', '*', '_', '~', '`', ',', '.', ';', ':', '!', '?',
    '»',
];

/// A word without the quotes, brackets, mrkdwn and sentence punctuation around it.
pub(super) fn clean(word: &str) -> &str {
    word.trim_start_matches(LEADING).trim_end_matches(TRAILING)
}

/// Lowercase, with typographic apostrophes made plain (`I’d` is `i'd`).
pub(super) fn lower(text: &str) -> String {
    text.to_lowercase().replace('’', "'")
}

/// How typed text and catalog names are compared: cleaned lowercase words, one space apart.
pub(super) fn key(text: &str) -> String {
    text.split_whitespace()
        .map(clean)
        .filter(|w| !w.is_empty())
        .map(lower)
        .collect::<Vec<_>>()
        .join(" ")
}

/// How many words `key` has (a key has single spaces).
pub(super) fn key_words(key: &str) -> usize {
    key.split(' ').filter(|w| !w.is_empty()).count()
}
