//! Escaping user text before it reaches Slack's mrkdwn.
//!
//! Slack treats `&`, `<` and `>` as control characters: `<!channel>` pings everyone,
//! `<@U123>` pings a person, `<https://x|y>` forges a link. Escaping those three is
//! what Slack documents, and it is enough: after it no sequence can open a mention
//! or a link. Unicode bidirectional controls (embeddings, overrides and isolates,
//! U+202A–U+202E and U+2066–U+2069) are dropped too ([`neutralise`]): they would let
//! a reason read differently on a card than it was typed. [`to_plain`] goes the other
//! way: mrkdwn as a person reads it in Slack (names for mentions, dates as text), for
//! plain-text fields and the demo.

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// `text` without bidirectional controls, for plain-text fields (which Slack shows
/// literally, so nothing else needs escaping there).
pub fn neutralise(text: &str) -> String {
    text.chars().filter(|c| !is_bidi_control(*c)).collect()
}

/// U+202A–U+202E (LRE, RLE, PDF, LRO, RLO) and U+2066–U+2069 (LRI, RLI, FSI, PDI).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` (mrkdwn) as Slack shows it: `<@U1>` as `@` and the person's name (`name`
/// answers for ids it knows; else the id), `<!subteam^S1>` as `@S1`, `<#C1>` as
/// `#C1`, `<!date^…|fallback>` as the fallback, `<url|label>` as the label, `<!here>`
/// as `@here`, and `&lt;` `&gt;` `&amp;` as the characters. Formatting marks stay.
pub fn to_plain(text: &str, name: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&unescape(&rest[..open]));
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&unescape(&rest[open..]));
            return out;
        };
        let token = &rest[open + 1..open + close];
        let (target, label) = token.split_once('|').unwrap_or((token, ""));
        let shown = if let Some(id) = target.strip_prefix('@') {
            format!("@{}", name(id).unwrap_or_else(|| id.to_owned()))
        } else if let Some(id) = target.strip_prefix("!subteam^") {
            format!(
                "@{}",
                if label.is_empty() {
                    id
                } else {
                    label.trim_start_matches('@')
                }
            )
        } else if let Some(id) = target.strip_prefix('#') {
            format!("#{}", if label.is_empty() { id } else { label })
        } else if target.starts_with("!date^") {
            label.to_owned()
        } else if let Some(special) = target.strip_prefix('!') {
            format!("@{special}")
        } else if label.is_empty() {
            target.to_owned()
        } else {
            label.to_owned()
        };
        out.push_str(&unescape(&shown));
        rest = &rest[open + close + 1..];
    }
    out.push_str(&unescape(rest));
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::{escape, to_plain};

    #[test]
    fn mrkdwn_reads_as_a_person_sees_it() {
        let names = |id: &str| (id == "U0BOB00001").then(|| "bob".to_owned());
        assert_eq!(
            to_plain(
                "<@U0BOB00001> and <@U9> approved on <!date^1763630100^{date_short_pretty}|2025-11-20 09:15 UTC> in <#C1> for <!subteam^S1>: a &lt;b&gt; &amp; c, <https://x.example|docs> <!here>",
                &names
            ),
            "@bob and @U9 approved on 2025-11-20 09:15 UTC in #C1 for @S1: a <b> & c, docs @here"
        );
        assert_eq!(to_plain("no tokens *bold*", &names), "no tokens *bold*");
        assert_eq!(to_plain("a < b", &names), "a < b");
    }

    #[test]
    fn bidirectional_controls_cannot_reorder_what_a_card_shows() {
        // An override (U+202E) would show "8 h" reversed on an approver's card.
        let typed = "for \u{202E}h 8\u{202C} and \u{2067}isolated\u{2069} text";
        assert_eq!(escape(typed), "for h 8 and isolated text");
        assert_eq!(super::neutralise(typed), "for h 8 and isolated text");
        assert_eq!(escape("العربية ok"), "العربية ok");
    }

    #[test]
    fn mentions_and_links_cannot_be_forged() {
        assert_eq!(
            escape("<!channel> <@U1> <https://evil|ok> a&b"),
            "&lt;!channel&gt; &lt;@U1&gt; &lt;https://evil|ok&gt; a&amp;b"
        );
    }

    #[test]
    fn other_text_is_untouched() {
        assert_eq!(escape("héllo *bold* שלום 👋"), "héllo *bold* שלום 👋");
    }
}
