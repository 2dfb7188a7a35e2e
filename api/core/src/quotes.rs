//! What counts as a valid quote, as a type: a [`QuoteText`] can only be made
//! from text that passes the contract's rules.

/// Most characters (Unicode scalar values) a quote may have.
pub const MAX_CHARS: usize = 1000;

/// Why a quote was refused. The messages are shown to people as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuoteError {
    #[error("The quote is empty.")]
    Empty,
    #[error("The quote has no visible characters, only spaces and invisible formatting.")]
    Invisible,
    #[error("The quote has {chars} characters; at most {MAX_CHARS} are allowed.")]
    TooLong { chars: usize },
    #[error(
        "The quote contains a control character (U+{code:04X}) at character {position}; only line breaks and tabs are allowed."
    )]
    ControlCharacter { code: u32, position: usize },
    #[error("The body must be a JSON object with a string field \"quote\": {0}.")]
    Shape(String),
}

/// Format characters that render as nothing: soft hyphen, Arabic letter
/// mark, Mongolian vowel separator, zero-width spaces and joiners,
/// direction marks and embeddings, word joiner and invisible operators,
/// direction isolates, and the byte order mark. A quote of these and
/// whitespace alone shows nothing, so it is refused like an empty one.
/// The OpenAPI pattern lists the same set.
pub const INVISIBLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
];

/// Whether `c` shows on screen: not whitespace, not a control character,
/// not one of the [`INVISIBLE`] format characters.
pub fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !c.is_control()
        && !INVISIBLE
            .iter()
            .any(|&(first, last)| (first..=last).contains(&c))
}

/// A quote that is trimmed, 1 to [`MAX_CHARS`] characters long, free of
/// control characters other than newline and tab, and with at least one
/// visible character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteText(String);

impl QuoteText {
    /// Validates `raw`, keeping the trimmed text byte for byte.
    pub fn parse(raw: &str) -> Result<Self, QuoteError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(QuoteError::Empty);
        }
        let mut chars = 0;
        for (index, c) in text.chars().enumerate() {
            if c.is_control() && c != '\n' && c != '\t' {
                return Err(QuoteError::ControlCharacter {
                    code: u32::from(c),
                    position: index + 1,
                });
            }
            chars += 1;
        }
        if chars > MAX_CHARS {
            return Err(QuoteError::TooLong { chars });
        }
        if !text.chars().any(is_visible) {
            return Err(QuoteError::Invisible);
        }
        Ok(Self(text.to_owned()))
    }

    /// The validated text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrounding_whitespace_is_trimmed_and_inner_whitespace_kept() {
        let quote = QuoteText::parse("  \n\tTo be,\n\tor not to be. \u{3000}").unwrap();
        assert_eq!(quote.as_str(), "To be,\n\tor not to be.");
    }

    #[test]
    fn invisible_text_is_refused_and_visible_text_keeps_its_marks() {
        for invisible in [
            "\u{FEFF}",
            "\u{200B}\u{200D}",
            " \u{2060} \u{AD}",
            "\u{202E}\u{2066}",
        ] {
            assert_eq!(
                QuoteText::parse(invisible),
                Err(QuoteError::Invisible),
                "{invisible:?}"
            );
        }
        let marked = "\u{FEFF}a\u{200D}b";
        assert_eq!(QuoteText::parse(marked).unwrap().as_str(), marked);
    }

    #[test]
    fn blank_text_is_empty() {
        assert_eq!(QuoteText::parse(" \n\t "), Err(QuoteError::Empty));
        assert_eq!(QuoteText::parse(""), Err(QuoteError::Empty));
    }

    #[test]
    fn length_counts_scalar_values_not_bytes() {
        let at_limit = "é".repeat(MAX_CHARS);
        assert!(QuoteText::parse(&at_limit).is_ok());
        let emoji_at_limit = "👍".repeat(MAX_CHARS);
        assert!(QuoteText::parse(&emoji_at_limit).is_ok());
        let over = "a".repeat(MAX_CHARS + 1);
        assert_eq!(
            QuoteText::parse(&over),
            Err(QuoteError::TooLong {
                chars: MAX_CHARS + 1
            })
        );
    }

    #[test]
    fn control_characters_other_than_newline_and_tab_are_refused() {
        for bad in ['\0', '\r', '\u{7}', '\u{1b}', '\u{7f}', '\u{85}'] {
            let text = format!("ab{bad}cd");
            assert!(
                matches!(
                    QuoteText::parse(&text),
                    Err(QuoteError::ControlCharacter { position: 3, .. })
                ),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn combining_marks_and_right_to_left_text_survive() {
        let text = "e\u{301} \u{5e9}\u{5dc}\u{5d5}\u{5dd} \u{200f}مرحبا";
        assert_eq!(QuoteText::parse(text).unwrap().as_str(), text);
    }
}
