//! Property tests: printed filters parse back to the same tree, and no input
//! makes `parse` panic.

use proptest::prelude::*;

use super::super::*;

/// Replaces the characters a field name may not hold.
fn name_from(chars: Vec<char>) -> String {
    chars
        .into_iter()
        .map(|c| {
            if lexer::is_forbidden_in_name(c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

fn identifier_from(first: char, rest: Vec<char>) -> String {
    let first = if is_ident_start(first) { first } else { '_' };
    std::iter::once(first)
        .chain(
            rest.into_iter()
                .map(|c| if is_ident_char(c) { c } else { '_' }),
        )
        .collect()
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,10}",
        "\\p{Han}{1,8}",
        prop::sample::select(vec!["not", "NOT", "and", "today", "in", "is", "last"])
            .prop_map(str::to_owned),
        (any::<char>(), prop::collection::vec(any::<char>(), 0..63))
            .prop_map(|(first, rest)| identifier_from(first, rest)),
        prop::collection::vec(any::<char>(), 1..=MAX_NAME_CHARS).prop_map(name_from),
        "[` ()'a-z]{1,12}",
    ]
}

fn text() -> impl Strategy<Value = String> {
    let chars = prop::collection::vec(any::<char>(), 0..16).prop_map(|cs| {
        cs.into_iter()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    ' '
                } else {
                    c
                }
            })
            .collect()
    });
    prop_oneof![chars, "[\\\\'\"\n\t a-z客户]{0,10}"]
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        text().prop_map(Literal::Text),
        "-?[0-9]{1,6}(\\.[0-9]{1,4})?".prop_map(Literal::Number),
        any::<bool>().prop_map(Literal::Bool),
    ]
}

fn period() -> impl Strategy<Value = Period> {
    prop_oneof![
        prop::sample::select(period::PERIOD_WORDS.map(|(_, p)| p).to_vec()),
        (1..=MAX_PERIOD_DAYS).prop_map(Period::LastDays),
        (1..=MAX_PERIOD_DAYS).prop_map(Period::NextDays),
    ]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        3 => literal().prop_map(Operand::Literal),
        1 => period().prop_map(Operand::Period),
        1 => (any::<char>(), prop::collection::vec(any::<char>(), 0..10))
            .prop_map(|(first, rest)| Operand::Variable(identifier_from(first, rest))),
    ]
}

fn comparison() -> impl Strategy<Value = Comparison> {
    use Comparison::*;
    prop::sample::select(vec![Eq, Ne, Lt, Le, Gt, Ge])
}

fn test() -> impl Strategy<Value = Test> {
    let list = || prop::collection::vec(operand(), 1..5);
    prop_oneof![
        (comparison(), operand()).prop_map(|(op, v)| Test::Compare(op, v)),
        literal().prop_map(Test::Contains),
        literal().prop_map(Test::NotContains),
        literal().prop_map(Test::StartsWith),
        list().prop_map(Test::In),
        list().prop_map(Test::NotIn),
        (operand(), operand()).prop_map(|(a, b)| Test::Between(a, b)),
        (operand(), operand()).prop_map(|(a, b)| Test::NotBetween(a, b)),
        Just(Test::IsEmpty),
        Just(Test::IsNotEmpty),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    let leaf =
        (field(), test()).prop_map(|(field, test)| Filter::Condition(Condition { field, test }));
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

/// Words, operators and punctuation of the language, and a few wrong ones.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "a",
        "客户名称",
        "`x y`",
        "`",
        "(",
        ")",
        ",",
        "=",
        "!=",
        "<>",
        "≥",
        "=<",
        "not",
        "and",
        "or",
        "contains",
        "starts",
        "with",
        "in",
        "between",
        "is",
        "empty",
        "today",
        "last",
        "next",
        "days",
        "7",
        "-1.5",
        "0",
        "'x'",
        "\"y\"",
        "'",
        "$me",
        "$",
        "true",
        "\\",
        "（",
    ]);
    prop::collection::vec(token, 0..30).prop_map(|tokens| tokens.join(" "))
}

fn check_error(input: &str, result: &Result<Filter, CoreError>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let CoreError::Filter { at, reason } = e else {
            return Err(TestCaseError::fail(format!("not a filter error: {e:?}")));
        };
        prop_assert!(*at <= input.chars().count(), "{at} beyond {input:?}");
        prop_assert!(!reason.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn printed_filters_parse_back_to_the_same_tree(ast in filter()) {
        let text = ast.to_string();
        prop_assume!(text.chars().count() <= MAX_FILTER_CHARS);
        prop_assert!(ast.conditions() <= MAX_CONDITIONS);
        prop_assert_eq!(parse(&text), Ok(ast), "{}", text);
    }

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,200}") {
        let result = parse(&input);
        check_error(&input, &result)?;
    }

    #[test]
    fn arbitrary_characters_never_panic(chars in prop::collection::vec(any::<char>(), 0..200)) {
        let input: String = chars.into_iter().collect();
        let result = parse(&input);
        check_error(&input, &result)?;
    }

    #[test]
    fn token_soup_never_panics_and_what_parses_prints_canonically(input in token_soup()) {
        let result = parse(&input);
        check_error(&input, &result)?;
        if let Ok(filter) = result {
            let canonical = filter.to_string();
            prop_assert_eq!(parse(&canonical), Ok(filter), "{}", canonical);
        }
    }
}
