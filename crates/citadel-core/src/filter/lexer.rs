//! Splits filter text into tokens, on demand, so the first error in reading
//! order is the one reported. Positions are character offsets (not bytes).

use super::{Comparison, MAX_NAME_CHARS, is_ident_char, is_ident_start};
use crate::CoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tok {
    /// A bare word: a field name or a keyword, decided by the parser.
    Word(String),
    /// A backtick-quoted field name, always a field.
    Quoted(String),
    Text(String),
    /// The exact text of a number, e.g. `-12.50`.
    Number(String),
    /// A variable's name, without the `$`.
    Var(String),
    /// A comparison and how it was spelled, for messages.
    Cmp(Comparison, &'static str),
    LParen,
    RParen,
    Comma,
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub tok: Tok,
    pub at: usize,
}

pub(super) fn error(at: usize, reason: impl Into<String>) -> CoreError {
    CoreError::Filter {
        at,
        reason: reason.into(),
    }
}

/// Every spelling of a comparison; the first of each is the canonical one.
const OPERATORS: [(&str, Comparison); 11] = [
    ("=", Comparison::Eq),
    ("==", Comparison::Eq),
    ("!=", Comparison::Ne),
    ("<>", Comparison::Ne),
    ("≠", Comparison::Ne),
    ("<", Comparison::Lt),
    ("<=", Comparison::Le),
    ("≤", Comparison::Le),
    (">", Comparison::Gt),
    (">=", Comparison::Ge),
    ("≥", Comparison::Ge),
];

fn is_operator_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>' | '≠' | '≤' | '≥')
}

/// Full-width punctuation a Chinese input method types by accident.
fn ascii_for_full_width(c: char) -> Option<char> {
    Some(match c {
        '（' => '(',
        '）' => ')',
        '，' => ',',
        '＝' => '=',
        '！' => '!',
        '＜' => '<',
        '＞' => '>',
        '‘' | '’' => '\'',
        '“' | '”' => '"',
        '＄' => '$',
        _ => return None,
    })
}

/// Shortens user text quoted back in a message.
pub(super) fn short(text: &str) -> String {
    const KEEP: usize = 24;
    if text.chars().count() <= KEEP {
        text.to_owned()
    } else {
        let mut kept: String = text.chars().take(KEEP).collect();
        kept.push('…');
        kept
    }
}

pub(super) struct Lexer {
    chars: Vec<char>,
    pos: usize,
}

impl Lexer {
    pub(super) fn new(input: &str) -> Self {
        Self {
            chars: input.chars().collect(),
            pos: 0,
        }
    }

    fn peek_at(&self, at: usize) -> Option<char> {
        self.chars.get(at).copied()
    }

    pub(super) fn next_token(&mut self) -> Result<Token, CoreError> {
        while self.peek_at(self.pos).is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(c) = self.peek_at(at) else {
            return Ok(Token { tok: Tok::End, at });
        };
        let tok = match c {
            '(' | ')' | ',' => {
                self.pos += 1;
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    _ => Tok::Comma,
                }
            }
            '\'' | '"' => Tok::Text(self.text(c)?),
            '`' => Tok::Quoted(self.quoted_name()?),
            '$' => {
                self.pos += 1;
                if !self.peek_at(self.pos).is_some_and(is_ident_start) {
                    return Err(error(at, "expected a variable name after `$`"));
                }
                Tok::Var(self.word()?)
            }
            '-' | '0'..='9' => Tok::Number(self.number()?),
            c if is_operator_char(c) => self.operator()?,
            c if is_ident_start(c) => Tok::Word(self.word()?),
            c => return Err(unexpected_char(at, c)),
        };
        Ok(Token { tok, at })
    }

    /// A run of identifier characters starting at `pos`.
    fn word(&mut self) -> Result<String, CoreError> {
        let start = self.pos;
        while self.peek_at(self.pos).is_some_and(is_ident_char) {
            self.pos += 1;
        }
        if self.pos - start > MAX_NAME_CHARS {
            return Err(error(
                start,
                format!("a name is longer than {MAX_NAME_CHARS} characters"),
            ));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek_at(self.pos).is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<String, CoreError> {
        let start = self.pos;
        if self.peek_at(self.pos) == Some('-') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(error(start, "expected a digit after `-`"));
            }
        } else {
            self.digits();
        }
        if self.peek_at(self.pos) == Some('.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(error(self.pos - 1, "expected a digit after `.`"));
            }
        }
        if let Some(c) = self.peek_at(self.pos)
            && (is_ident_char(c) || c == '.')
        {
            return Err(error(
                self.pos,
                format!("unexpected `{c}` right after a number"),
            ));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn operator(&mut self) -> Result<Tok, CoreError> {
        let start = self.pos;
        while self.peek_at(self.pos).is_some_and(is_operator_char) {
            self.pos += 1;
        }
        let spelled: String = self.chars[start..self.pos].iter().collect();
        OPERATORS
            .iter()
            .find(|(s, _)| *s == spelled)
            .map(|&(s, op)| Tok::Cmp(op, s))
            .ok_or_else(|| error(start, format!("unknown operator `{}`", short(&spelled))))
    }

    /// A quoted string starting at `pos` with `quote`, escapes resolved.
    fn text(&mut self, quote: char) -> Result<String, CoreError> {
        let start = self.pos;
        let unterminated = || {
            error(
                start,
                format!("unterminated text: the closing {quote} is missing"),
            )
        };
        let mut out = String::new();
        let mut at = start + 1;
        loop {
            match self.peek_at(at) {
                None => return Err(unterminated()),
                Some(c) if c == quote => break,
                Some('\\') => {
                    let resolved = match self.peek_at(at + 1) {
                        None => return Err(unterminated()),
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some(c @ ('\\' | '\'' | '"')) => c,
                        Some(_) => {
                            return Err(error(
                                at,
                                r#"unknown escape: only \\, \', \", \n and \t are allowed"#,
                            ));
                        }
                    };
                    out.push(resolved);
                    at += 2;
                    continue;
                }
                Some(c) if c.is_control() => {
                    return Err(error(
                        at,
                        r"text cannot contain control characters such as line breaks: write \n or \t",
                    ));
                }
                Some(c) => out.push(c),
            }
            at += 1;
        }
        self.pos = at + 1;
        Ok(out)
    }

    /// A backtick-quoted field name; a doubled backtick stands for one.
    fn quoted_name(&mut self) -> Result<String, CoreError> {
        let start = self.pos;
        let mut out = String::new();
        let mut at = start + 1;
        loop {
            match self.peek_at(at) {
                None => {
                    return Err(error(
                        start,
                        "unterminated field name: the closing ` is missing",
                    ));
                }
                Some('`') if self.peek_at(at + 1) == Some('`') => {
                    out.push('`');
                    at += 2;
                    continue;
                }
                Some('`') => break,
                Some(c) if is_forbidden_in_name(c) => {
                    return Err(error(at, "a field name cannot contain control characters"));
                }
                Some(c) => out.push(c),
            }
            at += 1;
        }
        self.pos = at + 1;
        let len = out.chars().count();
        if len == 0 {
            return Err(error(start, "a field name in backticks cannot be empty"));
        }
        if len > MAX_NAME_CHARS {
            return Err(error(
                start,
                format!("a field name is longer than {MAX_NAME_CHARS} characters"),
            ));
        }
        Ok(out)
    }
}

/// The characters a table's field name can never contain (as in
/// `data::names::SchemaName`).
pub(super) fn is_forbidden_in_name(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

fn unexpected_char(at: usize, c: char) -> CoreError {
    if let Some(ascii) = ascii_for_full_width(c) {
        error(
            at,
            format!("use the ASCII `{ascii}` instead of the full-width `{c}`"),
        )
    } else if c.is_control() {
        error(at, "unexpected control character")
    } else {
        error(at, format!("unexpected character `{c}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(input: &str) -> Result<Vec<Tok>, CoreError> {
        let mut lexer = Lexer::new(input);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token()?;
            if token.tok == Tok::End {
                return Ok(out);
            }
            out.push(token.tok);
        }
    }

    fn fails_at(input: &str) -> (usize, String) {
        match lex(input) {
            Err(CoreError::Filter { at, reason }) => (at, reason),
            other => panic!("{input:?} lexed to {other:?}"),
        }
    }

    fn word(w: &str) -> Tok {
        Tok::Word(w.to_owned())
    }

    #[test]
    fn every_operator_spelling() {
        use Comparison::*;
        let cases = [
            ("=", Eq),
            ("==", Eq),
            ("!=", Ne),
            ("<>", Ne),
            ("≠", Ne),
            ("<", Lt),
            ("<=", Le),
            ("≤", Le),
            (">", Gt),
            (">=", Ge),
            ("≥", Ge),
        ];
        for (spelled, op) in cases {
            assert_eq!(
                lex(&format!("a{spelled}1")),
                Ok(vec![
                    word("a"),
                    Tok::Cmp(op, spelled),
                    Tok::Number("1".into())
                ]),
                "{spelled}"
            );
        }
        for bad in ["=<", "=>", "!", "===", "<<", "≤="] {
            assert_eq!(
                fails_at(&format!("a {bad} 1")),
                (2, format!("unknown operator `{bad}`"))
            );
        }
    }

    #[test]
    fn words_names_and_variables() {
        assert_eq!(
            lex("客户名称 due_date _x $me $my_department"),
            Ok(vec![
                word("客户名称"),
                word("due_date"),
                word("_x"),
                Tok::Var("me".into()),
                Tok::Var("my_department".into()),
            ])
        );
        assert_eq!(
            lex("`客户 名称` `a``b` ````"),
            Ok(vec![
                Tok::Quoted("客户 名称".into()),
                Tok::Quoted("a`b".into()),
                Tok::Quoted("`".into()),
            ])
        );
        assert_eq!(lex(&"名".repeat(64)).map(|t| t.len()), Ok(1));
        assert_eq!(fails_at(&format!("a = 1 and {}", "名".repeat(65))).0, 10);
        assert_eq!(fails_at(&format!("`{}`", "x".repeat(65))).0, 0);
        assert_eq!(
            fails_at("a = `` "),
            (4, "a field name in backticks cannot be empty".into())
        );
        assert_eq!(
            fails_at("`abc"),
            (
                0,
                "unterminated field name: the closing ` is missing".into()
            )
        );
        assert_eq!(fails_at("`a\nb`").0, 2);
        assert_eq!(
            fails_at("a = $ "),
            (4, "expected a variable name after `$`".into())
        );
        assert_eq!(fails_at("a = $1").0, 4);
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            lex(r#"'it\'s' "say \"hi\"" 'a\\b\nc\td' "it's" '' '中文'"#),
            Ok(vec![
                Tok::Text("it's".into()),
                Tok::Text("say \"hi\"".into()),
                Tok::Text("a\\b\nc\td".into()),
                Tok::Text("it's".into()),
                Tok::Text(String::new()),
                Tok::Text("中文".into()),
            ])
        );
        assert_eq!(
            fails_at("名称 = '未完"),
            (5, "unterminated text: the closing ' is missing".into())
        );
        assert_eq!(fails_at(r#"a = "x\"#).0, 4);
        assert_eq!(fails_at(r"a = 'x\q'").0, 6);
        assert_eq!(fails_at("a = 'x\ny'").0, 6);
        assert_eq!(fails_at("a = 'x\u{7}'").0, 6);
    }

    #[test]
    fn numbers_keep_their_text() {
        assert_eq!(
            lex("0 -12.50 007 3.14159 -0"),
            Ok(["0", "-12.50", "007", "3.14159", "-0"]
                .map(|n| Tok::Number(n.into()))
                .to_vec())
        );
        assert_eq!(lex("a=-1").map(|t| t.len()), Ok(3));
        assert_eq!(fails_at("a = 1."), (5, "expected a digit after `.`".into()));
        assert_eq!(fails_at("a = .5"), (4, "unexpected character `.`".into()));
        assert_eq!(
            fails_at("a = - 5"),
            (4, "expected a digit after `-`".into())
        );
        assert_eq!(
            fails_at("a = 1e5"),
            (5, "unexpected `e` right after a number".into())
        );
        assert_eq!(fails_at("a = 1.2.3").0, 7);
    }

    #[test]
    fn full_width_punctuation_is_explained() {
        assert_eq!(
            fails_at("a in （1）"),
            (5, "use the ASCII `(` instead of the full-width `（`".into())
        );
        assert_eq!(fails_at("名称 ＝ 1").0, 3);
        assert_eq!(
            fails_at("a = 1 # x"),
            (6, "unexpected character `#`".into())
        );
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let mut lexer = Lexer::new("客户名称　=　'值'");
        let positions: Vec<usize> = std::iter::from_fn(|| {
            let t = lexer.next_token().ok()?;
            (t.tok != Tok::End).then_some(t.at)
        })
        .collect();
        assert_eq!(positions, vec![0, 5, 7]);
    }
}
