//! The one rule every piece of text from outside obeys before it is stored or compared:
//! no C0 control characters but tab, line feed and carriage return. Postgres refuses NUL
//! outright, and the other controls only ever serve to hide or break things (terminal
//! escapes in logs, invisible differences in names).

/// The first character of `text` that may not appear in stored text, if any.
pub fn forbidden_char(text: &str) -> Option<char> {
    text.chars()
        .find(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r') && *c != '\u{7f}')
}

/// How a forbidden character is named in an error message: `U+0000`.
pub fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_but_whitespace_are_forbidden() {
        assert_eq!(forbidden_char("a\u{0}b"), Some('\u{0}'));
        assert_eq!(forbidden_char("esc \u{1b}[2J"), Some('\u{1b}'));
        assert_eq!(forbidden_char("tab\tline\ncr\r"), None);
        assert_eq!(forbidden_char("émoji 🦀 and DEL \u{7f}"), None);
        assert_eq!(describe('\u{0}'), "U+0000");
    }
}
