//! Escaping user text before it reaches Slack's mrkdwn.
//!
//! Slack treats `&`, `<` and `>` as control characters: `<!channel>` pings everyone,
//! `<@U123>` pings a person, `<https://x|y>` forges a link. Escaping those three is
//! what Slack documents, and it is enough: after it no sequence can open a mention
//! or a link.

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

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
