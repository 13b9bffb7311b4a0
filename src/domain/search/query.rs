//! What a reader types into the search box, read as web search engines (and Postgres'
//! `websearch_to_tsquery`) read it: words are all required, `"quoted words"` form a
//! phrase, `-word` or `-"a phrase"` excludes, and `or` between two words or phrases
//! accepts either. Nothing a reader types is an error.

/// One word, or the words of a phrase in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Word(String),
    Phrase(String),
}

/// A parsed search: each group is required (any one of its items will do); excluded items
/// must not match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub groups: Vec<Vec<Item>>,
    pub excluded: Vec<Item>,
}

enum Token {
    Item { item: Item, negated: bool },
    Or,
}

fn lex(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let negated = c == '-';
        if negated {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|&c| c != '"').collect();
            if !phrase.trim().is_empty() {
                tokens.push(Token::Item {
                    item: Item::Phrase(phrase),
                    negated,
                });
            }
            continue;
        }
        let mut word = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '"' {
                break;
            }
            word.push(c);
            chars.next();
        }
        if word.is_empty() {
            continue;
        }
        if !negated && word.eq_ignore_ascii_case("or") {
            tokens.push(Token::Or);
        } else {
            tokens.push(Token::Item {
                item: Item::Word(word),
                negated,
            });
        }
    }
    tokens
}

pub fn parse(text: &str) -> Parsed {
    let mut parsed = Parsed::default();
    let mut joining = false;
    for token in lex(text) {
        match token {
            Token::Or => joining = !parsed.groups.is_empty(),
            Token::Item {
                item,
                negated: true,
            } => {
                parsed.excluded.push(item);
                joining = false;
            }
            Token::Item {
                item,
                negated: false,
            } => {
                match parsed.groups.last_mut() {
                    Some(group) if joining => group.push(item),
                    _ => parsed.groups.push(vec![item]),
                }
                joining = false;
            }
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(w: &str) -> Item {
        Item::Word(w.to_owned())
    }

    #[test]
    fn words_phrases_exclusions_and_alternatives() {
        assert_eq!(
            parse("rust \"borrow checker\" -python go or zig"),
            Parsed {
                groups: vec![
                    vec![word("rust")],
                    vec![Item::Phrase("borrow checker".to_owned())],
                    vec![word("go"), word("zig")],
                ],
                excluded: vec![word("python")],
            }
        );
        assert_eq!(
            parse("or or \"unclosed phrase -x"),
            Parsed {
                groups: vec![vec![Item::Phrase("unclosed phrase -x".to_owned())]],
                excluded: vec![],
            }
        );
        assert_eq!(parse("  \"\" - -\"\" "), Parsed::default());
        assert_eq!(
            parse("-\"bad idea\"").excluded,
            vec![Item::Phrase("bad idea".to_owned())]
        );
    }
}
