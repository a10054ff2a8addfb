//! Recursive descent over the tokens of [`super::lexer`]. Recursion happens
//! only at `(` and `not`, and the depth is checked before each, so hostile
//! input cannot drive it past [`MAX_DEPTH`] frames.

use super::lexer::{Lexer, Tok, Token, error, short};
use super::{
    Condition, Filter, Literal, MAX_CONDITIONS, MAX_DEPTH, MAX_FILTER_CHARS, MAX_IN_VALUES,
    MAX_PERIOD_DAYS, Operand, Period, Test, is_keyword,
};
use crate::CoreError;

pub(super) fn parse(input: &str) -> Result<Filter, CoreError> {
    if input.chars().nth(MAX_FILTER_CHARS).is_some() {
        return Err(error(
            MAX_FILTER_CHARS,
            format!("filter is longer than {MAX_FILTER_CHARS} characters"),
        ));
    }
    let mut lexer = Lexer::new(input);
    let tok = lexer.next_token()?;
    if tok.tok == Tok::End {
        return Err(error(0, "filter is empty"));
    }
    let mut parser = Parser {
        lexer,
        tok,
        conditions: 0,
    };
    let filter = parser.or_expr(0, "")?;
    match &parser.tok.tok {
        Tok::End => Ok(filter),
        Tok::RParen => Err(error(
            parser.tok.at,
            "unexpected `)` without a matching `(`",
        )),
        other => Err(error(
            parser.tok.at,
            format!(
                "unexpected {}: join conditions with `and` or `or`",
                describe(other)
            ),
        )),
    }
}

/// How a token is named in a message.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Word(w) => format!("`{}`", short(w)),
        Tok::Quoted(name) => format!("the field name `{}`", short(name)),
        Tok::Text(_) => "a text value".to_owned(),
        Tok::Number(n) => format!("the number {}", short(n)),
        Tok::Var(v) => format!("`${}`", short(v)),
        Tok::Cmp(_, spelled) => format!("`{spelled}`"),
        Tok::LParen => "`(`".to_owned(),
        Tok::RParen => "`)`".to_owned(),
        Tok::Comma => "`,`".to_owned(),
        Tok::End => "the end of the filter".to_owned(),
    }
}

/// Refuses to open one more level at `at` when `depth` levels are open.
fn nest(depth: usize, at: usize) -> Result<usize, CoreError> {
    if depth >= MAX_DEPTH {
        return Err(error(
            at,
            format!("filter is nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    Ok(depth + 1)
}

struct Parser {
    lexer: Lexer,
    /// The current, not yet consumed, token.
    tok: Token,
    conditions: usize,
}

impl Parser {
    /// Consumes the current token.
    fn advance(&mut self) -> Result<(), CoreError> {
        self.tok = self.lexer.next_token()?;
        Ok(())
    }

    fn at_word(&self, keyword: &str) -> bool {
        matches!(&self.tok.tok, Tok::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn expect_word(&mut self, keyword: &str, reason: &str) -> Result<(), CoreError> {
        if !self.at_word(keyword) {
            return Err(error(self.tok.at, reason));
        }
        self.advance()
    }

    /// `after` names what came before, for messages (e.g. " after `(`").
    fn or_expr(&mut self, depth: usize, after: &str) -> Result<Filter, CoreError> {
        let first = self.and_expr(depth, after)?;
        if !self.at_word("or") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.at_word("or") {
            self.advance()?;
            items.push(self.and_expr(depth, " after `or`")?);
        }
        Ok(Filter::Or(items))
    }

    fn and_expr(&mut self, depth: usize, after: &str) -> Result<Filter, CoreError> {
        let first = self.unary(depth, after)?;
        if !self.at_word("and") {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.at_word("and") {
            self.advance()?;
            items.push(self.unary(depth, " after `and`")?);
        }
        Ok(Filter::And(items))
    }

    fn unary(&mut self, depth: usize, after: &str) -> Result<Filter, CoreError> {
        let at = self.tok.at;
        match self.tok.tok.clone() {
            Tok::LParen => {
                let inner_depth = nest(depth, at)?;
                self.advance()?;
                if self.tok.tok == Tok::RParen {
                    return Err(error(self.tok.at, "empty parentheses"));
                }
                let inner = self.or_expr(inner_depth, " after `(`")?;
                match &self.tok.tok {
                    Tok::RParen => {
                        self.advance()?;
                        Ok(inner)
                    }
                    Tok::End => Err(error(
                        self.tok.at,
                        format!("missing `)` to close the `(` at character {at}"),
                    )),
                    other => Err(error(
                        self.tok.at,
                        format!("expected `and`, `or` or `)`, found {}", describe(other)),
                    )),
                }
            }
            Tok::Word(word) if word.eq_ignore_ascii_case("not") => {
                self.advance()?;
                // `not = 1` compares a field named `not`.
                if matches!(self.tok.tok, Tok::Cmp(..)) {
                    return self.condition(word, at, true);
                }
                let inner_depth = nest(depth, at)?;
                let inner = self.unary(inner_depth, " after `not`")?;
                Ok(Filter::Not(Box::new(inner)))
            }
            Tok::Word(name) => {
                self.advance()?;
                self.condition(name, at, true)
            }
            Tok::Quoted(name) => {
                self.advance()?;
                self.condition(name, at, false)
            }
            Tok::End => Err(error(at, format!("expected a condition{after}"))),
            other => Err(error(
                at,
                format!("expected a condition{after}, found {}", describe(&other)),
            )),
        }
    }

    /// The rest of a condition on `field`, which started at `at`.
    fn condition(&mut self, field: String, at: usize, bare: bool) -> Result<Filter, CoreError> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(error(
                at,
                format!("filter has more than {MAX_CONDITIONS} conditions"),
            ));
        }
        let keyword = match &self.tok.tok {
            Tok::Cmp(op, spelled) => {
                let (op, spelled) = (*op, *spelled);
                self.advance()?;
                let test = Test::Compare(op, self.operand(spelled)?);
                return Ok(Filter::Condition(Condition { field, test }));
            }
            Tok::Word(w) => w.to_ascii_lowercase(),
            _ => String::new(),
        };
        let test = match keyword.as_str() {
            "contains" => {
                self.advance()?;
                Test::Contains(self.literal("contains")?)
            }
            "starts" => {
                self.advance()?;
                self.expect_word("with", "expected `with` after `starts`")?;
                Test::StartsWith(self.literal("starts with")?)
            }
            "in" => {
                self.advance()?;
                Test::In(self.list("in")?)
            }
            "between" => {
                self.advance()?;
                let (low, high) = self.between("between")?;
                Test::Between(low, high)
            }
            "is" => {
                self.advance()?;
                if self.at_word("not") {
                    self.advance()?;
                    self.expect_word("empty", "expected `empty` after `is not`")?;
                    Test::IsNotEmpty
                } else {
                    self.expect_word("empty", "expected `empty` or `not empty` after `is`")?;
                    Test::IsEmpty
                }
            }
            "not" => {
                self.advance()?;
                self.negated_test()?
            }
            _ if bare
                && (field.eq_ignore_ascii_case("and") || field.eq_ignore_ascii_case("or")) =>
            {
                return Err(error(at, format!("expected a condition before `{field}`")));
            }
            _ => {
                let found = match &self.tok.tok {
                    Tok::End => String::new(),
                    other => format!(", found {}", describe(other)),
                };
                return Err(error(
                    self.tok.at,
                    format!(
                        "expected an operator such as `=`, `contains` or `in` after `{}`{found}",
                        short(&field)
                    ),
                ));
            }
        };
        Ok(Filter::Condition(Condition { field, test }))
    }

    /// After `field not`.
    fn negated_test(&mut self) -> Result<Test, CoreError> {
        let reason = "expected `contains`, `in` or `between` after `not`";
        let Tok::Word(w) = &self.tok.tok else {
            return Err(error(self.tok.at, reason));
        };
        match w.to_ascii_lowercase().as_str() {
            "contains" => {
                self.advance()?;
                Ok(Test::NotContains(self.literal("not contains")?))
            }
            "in" => {
                self.advance()?;
                Ok(Test::NotIn(self.list("not in")?))
            }
            "between" => {
                self.advance()?;
                let (low, high) = self.between("not between")?;
                Ok(Test::NotBetween(low, high))
            }
            _ => Err(error(self.tok.at, reason)),
        }
    }

    /// A value after `after` (an operator or keyword, for messages).
    fn operand(&mut self, after: &str) -> Result<Operand, CoreError> {
        let at = self.tok.at;
        let operand = match self.tok.tok.clone() {
            Tok::Text(text) => Operand::Literal(Literal::Text(text)),
            Tok::Number(n) => Operand::Literal(Literal::Number(n)),
            Tok::Var(name) => Operand::Variable(name),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Operand::Literal(Literal::Bool(true)),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => {
                Operand::Literal(Literal::Bool(false))
            }
            Tok::Word(w) if w.eq_ignore_ascii_case("last") || w.eq_ignore_ascii_case("next") => {
                self.advance()?;
                return self.days(&w);
            }
            Tok::Word(w) => match Period::from_word(&w) {
                Some(p) => Operand::Period(p),
                None if is_keyword(&w) => {
                    return Err(error(
                        at,
                        format!("expected a value after `{after}`, found `{w}`"),
                    ));
                }
                None => {
                    let w = short(&w);
                    return Err(error(
                        at,
                        format!("unquoted text `{w}`: put text in quotes, like '{w}'"),
                    ));
                }
            },
            Tok::End => return Err(error(at, format!("expected a value after `{after}`"))),
            other => {
                return Err(error(
                    at,
                    format!(
                        "expected a value after `{after}`, found {}",
                        describe(&other)
                    ),
                ));
            }
        };
        self.advance()?;
        Ok(operand)
    }

    /// `N days` after `last` or `next` (spelled `word`).
    fn days(&mut self, word: &str) -> Result<Operand, CoreError> {
        let at = self.tok.at;
        let Tok::Number(n) = self.tok.tok.clone() else {
            return Err(error(
                at,
                format!("expected a number of days after `{word}`, like `{word} 7 days`"),
            ));
        };
        let days = n
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_PERIOD_DAYS).contains(d))
            .ok_or_else(|| {
                error(
                    at,
                    format!(
                        "the number of days must be a whole number from 1 to {MAX_PERIOD_DAYS}"
                    ),
                )
            })?;
        self.advance()?;
        self.expect_word("days", &format!("expected `days` after `{word} {n}`"))?;
        Ok(Operand::Period(if word.eq_ignore_ascii_case("last") {
            Period::LastDays(days)
        } else {
            Period::NextDays(days)
        }))
    }

    /// A text, number or boolean after `after` (`contains`, `starts with`).
    fn literal(&mut self, after: &str) -> Result<Literal, CoreError> {
        let at = self.tok.at;
        match self.operand(after)? {
            Operand::Literal(literal) => Ok(literal),
            Operand::Period(_) | Operand::Variable(_) => Err(error(
                at,
                format!("`{after}` needs a text, number or true/false value"),
            )),
        }
    }

    /// `(v, ...)` after `keyword` (`in`, `not in`).
    fn list(&mut self, keyword: &str) -> Result<Vec<Operand>, CoreError> {
        if self.tok.tok != Tok::LParen {
            return Err(error(
                self.tok.at,
                format!("expected `(` after `{keyword}`, like `{keyword} (1, 2)`"),
            ));
        }
        self.advance()?;
        if self.tok.tok == Tok::RParen {
            return Err(error(
                self.tok.at,
                format!("`{keyword}` needs at least one value"),
            ));
        }
        let mut values = Vec::new();
        let mut after = "(";
        loop {
            if values.len() == MAX_IN_VALUES {
                return Err(error(
                    self.tok.at,
                    format!("`{keyword}` has more than {MAX_IN_VALUES} values"),
                ));
            }
            values.push(self.operand(after)?);
            match &self.tok.tok {
                Tok::Comma => {
                    self.advance()?;
                    after = ",";
                }
                Tok::RParen => {
                    self.advance()?;
                    return Ok(values);
                }
                Tok::End => {
                    return Err(error(
                        self.tok.at,
                        format!("missing `)` to close the `{keyword}` list"),
                    ));
                }
                other => {
                    return Err(error(
                        self.tok.at,
                        format!("expected `,` or `)`, found {}", describe(other)),
                    ));
                }
            }
        }
    }

    /// `low and high` after `keyword` (`between`, `not between`).
    fn between(&mut self, keyword: &str) -> Result<(Operand, Operand), CoreError> {
        let low = self.operand(keyword)?;
        self.expect_word(
            "and",
            &format!("expected `and` between the two values of `{keyword}`"),
        )?;
        let high = self.operand("and")?;
        Ok((low, high))
    }
}
