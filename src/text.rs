//! Text rules shared by every layer.
//!
//! The one rule every piece of text from outside obeys before it is stored or compared:
//! no C0 control characters but tab, line feed and carriage return. Postgres refuses NUL
//! outright, and the other controls only ever serve to hide or break things (terminal
//! escapes in logs, invisible differences in names). And the one HTML escaper, for the
//! pages, the emails and search highlights.

/// The first character of `text` that may not appear in stored text, if any.
pub fn forbidden_char(text: &str) -> Option<char> {
    text.chars()
        .find(|c| c.is_ascii_control() && !matches!(c, '\t' | '\n' | '\r') && *c != '\u{7f}')
}

/// How a forbidden character is named in an error message: `U+0000`.
pub fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// `text` safe inside HTML text and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_escaped(&mut out, text);
    out
}

/// Appends `text` to `out`, escaped as [`escape_html`] does.
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
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
