//! Slack's rules for a new channel's name and purpose, checked in the modal before
//! anything is created, each problem with a sentence fit for the modal's error.
//!
//! Slack: at most 80 characters; lowercase letters, digits, hyphens and underscores.
//! Whether a name is taken needs Slack, so the caller reports [`NameProblem::Taken`].

use std::fmt;

pub const MAX_NAME_CHARS: usize = 80;
pub const MAX_DESCRIPTION_CHARS: usize = 250;

/// A channel name that passed [`ChannelName::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelName(String);

impl ChannelName {
    /// Accepts one leading `#`, as people type channel names that way.
    pub fn parse(text: &str) -> Result<ChannelName, NameProblem> {
        let name = text.strip_prefix('#').unwrap_or(text);
        if name.is_empty() {
            return Err(NameProblem::Empty);
        }
        let suggestion = suggest(name);
        if name.chars().any(char::is_whitespace) {
            return Err(NameProblem::Spaces { suggestion });
        }
        if name.chars().any(char::is_uppercase) {
            return Err(NameProblem::Capitals { suggestion });
        }
        let mut special: Vec<char> = name.chars().filter(|c| !allowed(*c)).collect();
        if !special.is_empty() {
            special.sort_unstable();
            special.dedup();
            return Err(NameProblem::SpecialCharacters {
                chars: special.into_iter().collect(),
                suggestion,
            });
        }
        let len = name.chars().count();
        if len > MAX_NAME_CHARS {
            return Err(NameProblem::TooLong { len });
        }
        Ok(ChannelName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `name` may be given to a new channel (see [`ChannelName::parse`]).
pub fn check(name: &str) -> Result<(), NameProblem> {
    ChannelName::parse(name).map(drop)
}

/// Why a channel name cannot be used. When a name has several problems the first
/// in this order is reported, so fixing what the sentence says makes progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    /// `suggestion` is the name made valid (may be empty when nothing is left of it).
    Spaces {
        suggestion: String,
    },
    Capitals {
        suggestion: String,
    },
    /// The offending characters, each once, in code-point order.
    SpecialCharacters {
        chars: String,
        suggestion: String,
    },
    TooLong {
        len: usize,
    },
    /// Slack said `name_taken` (or a channel by that name was found).
    Taken {
        name: String,
    },
}

impl NameProblem {
    /// A sentence for the modal's error under the name field.
    pub fn explain(&self) -> String {
        match self {
            NameProblem::Empty => "Enter a channel name.".to_owned(),
            NameProblem::Spaces { suggestion } => format!(
                "Channel names can't contain spaces{}.",
                try_instead(suggestion)
            ),
            NameProblem::Capitals { suggestion } => format!(
                "Channel names can't contain capital letters{}.",
                try_instead(suggestion)
            ),
            NameProblem::SpecialCharacters { chars, suggestion } => format!(
                "Channel names can only contain lowercase letters, numbers, hyphens and underscores, not {}{}.",
                listed(chars),
                try_instead(suggestion)
            ),
            NameProblem::TooLong { len } => format!(
                "Channel names can be at most {MAX_NAME_CHARS} characters; this one has {len}."
            ),
            NameProblem::Taken { name } => format!(
                "A channel named #{name} already exists; pick another name, or enter it as an existing channel."
            ),
        }
    }
}

/// The purpose set on a new channel is too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescriptionTooLong {
    pub len: usize,
}

impl DescriptionTooLong {
    pub fn explain(&self) -> String {
        format!(
            "The description can be at most {MAX_DESCRIPTION_CHARS} characters; this one has {}.",
            self.len
        )
    }
}

/// The optional description of a new channel (its purpose): at most 250 characters.
pub fn check_description(text: &str) -> Result<(), DescriptionTooLong> {
    let len = text.chars().count();
    if len > MAX_DESCRIPTION_CHARS {
        return Err(DescriptionTooLong { len });
    }
    Ok(())
}

fn allowed(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
}

/// Lowercased, spaces as hyphens, everything else not allowed dropped, cut to length.
fn suggest(name: &str) -> String {
    let mapped: String = name
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("-")
        .chars()
        .flat_map(char::to_lowercase)
        .filter(|c| allowed(*c))
        .take(MAX_NAME_CHARS)
        .collect();
    mapped
}

fn try_instead(suggestion: &str) -> String {
    if suggestion.is_empty() {
        String::new()
    } else {
        format!("; try {suggestion}")
    }
}

/// `"!"` or `"!", "." and "é"`.
fn listed(chars: &str) -> String {
    let quoted: Vec<String> = chars.chars().map(|c| format!("\"{c}\"")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(name: &str) -> NameProblem {
        ChannelName::parse(name).expect_err("a problem")
    }

    #[test]
    fn a_slack_style_name_is_accepted_with_or_without_its_hash() {
        assert_eq!(
            ChannelName::parse("access-review_q4-2026").map(|n| n.to_string()),
            Ok("access-review_q4-2026".to_owned())
        );
        assert_eq!(
            ChannelName::parse("#access-review").map(|n| n.to_string()),
            Ok("access-review".to_owned())
        );
        assert_eq!(check("0"), Ok(()));
    }

    #[test]
    fn an_empty_name_is_refused() {
        assert_eq!(problem(""), NameProblem::Empty);
        assert_eq!(problem("#"), NameProblem::Empty);
        assert_eq!(problem("").explain(), "Enter a channel name.");
    }

    #[test]
    fn spaces_are_refused_with_a_hyphenated_suggestion() {
        let p = problem("access review q4");
        assert_eq!(
            p,
            NameProblem::Spaces {
                suggestion: "access-review-q4".into()
            }
        );
        assert_eq!(
            p.explain(),
            "Channel names can't contain spaces; try access-review-q4."
        );
        assert!(matches!(problem("tab\there"), NameProblem::Spaces { .. }));
    }

    #[test]
    fn capitals_are_refused_with_the_lowercase_name() {
        let p = problem("Access-Review");
        assert_eq!(
            p.explain(),
            "Channel names can't contain capital letters; try access-review."
        );
    }

    #[test]
    fn special_characters_are_named_once_each() {
        let p = problem("review!q4.2026!");
        assert_eq!(
            p,
            NameProblem::SpecialCharacters {
                chars: "!.".into(),
                suggestion: "reviewq42026".into()
            }
        );
        assert_eq!(
            p.explain(),
            "Channel names can only contain lowercase letters, numbers, hyphens and underscores, not \"!\" and \".\"; try reviewq42026."
        );
        assert_eq!(
            problem("ré$view@").explain(),
            "Channel names can only contain lowercase letters, numbers, hyphens and underscores, not \"$\", \"@\" and \"é\"; try rview."
        );
        assert_eq!(
            problem("!!!").explain(),
            "Channel names can only contain lowercase letters, numbers, hyphens and underscores, not \"!\"."
        );
    }

    #[test]
    fn eighty_characters_pass_and_eighty_one_do_not() {
        assert_eq!(check(&"a".repeat(80)), Ok(()));
        let p = problem(&"a".repeat(81));
        assert_eq!(p, NameProblem::TooLong { len: 81 });
        assert_eq!(
            p.explain(),
            "Channel names can be at most 80 characters; this one has 81."
        );
    }

    #[test]
    fn a_too_long_name_with_spaces_is_told_about_the_spaces_first() {
        let long = format!("a {}", "b".repeat(90));
        let NameProblem::Spaces { suggestion } = problem(&long) else {
            panic!("spaces first");
        };
        assert_eq!(suggestion.chars().count(), 80);
    }

    #[test]
    fn a_taken_name_says_so() {
        assert_eq!(
            NameProblem::Taken {
                name: "access-review".into()
            }
            .explain(),
            "A channel named #access-review already exists; pick another name, or enter it as an existing channel."
        );
    }

    #[test]
    fn descriptions_may_have_250_characters_counted_as_characters() {
        assert_eq!(check_description(""), Ok(()));
        assert_eq!(check_description(&"é".repeat(250)), Ok(()));
        let long = check_description(&"x".repeat(251)).expect_err("too long");
        assert_eq!(long, DescriptionTooLong { len: 251 });
        assert_eq!(
            long.explain(),
            "The description can be at most 250 characters; this one has 251."
        );
    }
}
