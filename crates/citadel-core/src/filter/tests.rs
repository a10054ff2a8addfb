//! Parser and `Display` tests; the error table and the limits are in
//! `tests/errors.rs`, the property tests in `tests/props.rs`.

use super::*;

mod errors;
mod props;

pub(super) fn ok(input: &str) -> Filter {
    match parse(input) {
        Ok(f) => f,
        Err(e) => panic!("{input:?} failed: {e}"),
    }
}

fn c(field: &str, test: Test) -> Filter {
    Filter::Condition(Condition {
        field: field.to_owned(),
        test,
    })
}

fn eq(field: &str, value: Operand) -> Filter {
    c(field, Test::Compare(Comparison::Eq, value))
}

fn num(n: &str) -> Operand {
    Operand::Literal(Literal::Number(n.to_owned()))
}

fn text(t: &str) -> Operand {
    Operand::Literal(Literal::Text(t.to_owned()))
}

fn lit(t: &str) -> Literal {
    Literal::Text(t.to_owned())
}

fn not(f: Filter) -> Filter {
    Filter::Not(Box::new(f))
}

/// `field = 1` for the letters of `fields`, for precedence tests.
fn conds(fields: &str) -> Vec<Filter> {
    fields
        .chars()
        .map(|f| eq(&f.to_string(), num("1")))
        .collect()
}

#[test]
fn comparisons_in_every_spelling() {
    use Comparison::*;
    for (spelled, op) in [
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
    ] {
        let expected = c("金额", Test::Compare(op, num("1000")));
        assert_eq!(ok(&format!("金额 {spelled} 1000")), expected, "{spelled}");
        assert_eq!(ok(&format!("金额{spelled}1000")), expected, "{spelled}");
    }
}

#[test]
fn keyword_tests_in_any_case() {
    let cases = [
        ("名称 contains '华'", Test::Contains(lit("华"))),
        (
            "名称 CONTAINS 5",
            Test::Contains(Literal::Number("5".into())),
        ),
        ("名称 not contains '华'", Test::NotContains(lit("华"))),
        (
            "名称 Not Contains true",
            Test::NotContains(Literal::Bool(true)),
        ),
        ("名称 starts with 'A'", Test::StartsWith(lit("A"))),
        ("名称 STARTS WITH 'A'", Test::StartsWith(lit("A"))),
        ("名称 in (1)", Test::In(vec![num("1")])),
        (
            "名称 IN ('a', 2, $me)",
            Test::In(vec![text("a"), num("2"), Operand::Variable("me".into())]),
        ),
        (
            "名称 not in ('a','b')",
            Test::NotIn(vec![text("a"), text("b")]),
        ),
        ("名称 between 1 and 5", Test::Between(num("1"), num("5"))),
        ("名称 BETWEEN 1 AND 5", Test::Between(num("1"), num("5"))),
        (
            "名称 not between 1 and 5",
            Test::NotBetween(num("1"), num("5")),
        ),
        ("名称 is empty", Test::IsEmpty),
        ("名称 IS EMPTY", Test::IsEmpty),
        ("名称 is not empty", Test::IsNotEmpty),
        ("名称 Is Not Empty", Test::IsNotEmpty),
    ];
    for (input, test) in cases {
        assert_eq!(ok(input), c("名称", test), "{input}");
    }
}

#[test]
fn and_binds_tighter_than_or_and_not_tighter_than_and() {
    let [a, b, cc, d] = <[Filter; 4]>::try_from(conds("abcd")).expect("four");
    assert_eq!(
        ok("a = 1 or b = 1 and c = 1"),
        Filter::Or(vec![a.clone(), Filter::And(vec![b.clone(), cc.clone()])])
    );
    assert_eq!(
        ok("a = 1 and b = 1 or c = 1 and d = 1"),
        Filter::Or(vec![
            Filter::And(vec![a.clone(), b.clone()]),
            Filter::And(vec![cc.clone(), d.clone()]),
        ])
    );
    assert_eq!(
        ok("a = 1 OR b = 1 Or c = 1"),
        Filter::Or(vec![a.clone(), b.clone(), cc.clone()])
    );
    assert_eq!(
        ok("not a = 1 and b = 1"),
        Filter::And(vec![not(a.clone()), b.clone()])
    );
    assert_eq!(
        ok("not a = 1 or not b = 1"),
        Filter::Or(vec![not(a.clone()), not(b.clone())])
    );
    assert_eq!(ok("NOT not a = 1"), not(not(a.clone())));
    assert_eq!(
        ok("not (a = 1 and b = 1)"),
        not(Filter::And(vec![a.clone(), b.clone()]))
    );
    assert_eq!(
        ok("(a = 1 or b = 1) and c = 1"),
        Filter::And(vec![Filter::Or(vec![a.clone(), b.clone()]), cc.clone()])
    );
    assert_eq!(ok("((a = 1))"), a);
}

#[test]
fn groups_are_not_flattened() {
    let [a, b, cc] = <[Filter; 3]>::try_from(conds("abc")).expect("three");
    let nested = Filter::And(vec![a.clone(), Filter::And(vec![b.clone(), cc.clone()])]);
    assert_eq!(ok("a = 1 and (b = 1 and c = 1)"), nested);
    assert_eq!(nested.to_string(), "a = 1 and (b = 1 and c = 1)");
    assert_eq!(ok("a = 1 and b = 1 and c = 1"), Filter::And(vec![a, b, cc]));
}

#[test]
fn between_takes_its_own_and() {
    assert_eq!(
        ok("a between 1 and 5 and b = 2"),
        Filter::And(vec![
            c("a", Test::Between(num("1"), num("5"))),
            eq("b", num("2")),
        ])
    );
    assert_eq!(
        ok("日期 between last 7 days and today or x = 1"),
        Filter::Or(vec![
            c(
                "日期",
                Test::Between(
                    Operand::Period(Period::LastDays(7)),
                    Operand::Period(Period::Today)
                )
            ),
            eq("x", num("1")),
        ])
    );
}

#[test]
fn bare_words_in_field_position_are_fields() {
    assert_eq!(
        ok("today = today"),
        eq("today", Operand::Period(Period::Today))
    );
    assert_eq!(ok("and = 1"), eq("and", num("1")));
    assert_eq!(ok("in in (1)"), c("in", Test::In(vec![num("1")])));
    assert_eq!(ok("is is empty"), c("is", Test::IsEmpty));
    assert_eq!(
        ok("contains contains 'x'"),
        c("contains", Test::Contains(lit("x")))
    );
    assert_eq!(
        ok("true = false"),
        eq("true", Operand::Literal(Literal::Bool(false)))
    );
    // `not` before a comparison operator is a field; otherwise it negates.
    assert_eq!(ok("not = 1"), eq("not", num("1")));
    assert_eq!(ok("not not = 1"), not(eq("not", num("1"))));
    assert_eq!(ok("`not` contains 'x'"), c("not", Test::Contains(lit("x"))));
    assert_eq!(ok("not status = 'x'"), not(eq("status", text("x"))));
}

#[test]
fn chinese_and_backticked_names() {
    assert_eq!(ok("客户名称 = '华为'"), eq("客户名称", text("华为")));
    assert_eq!(ok("客户名称　=　'华为'"), eq("客户名称", text("华为")));
    assert_eq!(ok("`客户 名称` = 1"), eq("客户 名称", num("1")));
    assert_eq!(ok("`a``b` = 1"), eq("a`b", num("1")));
    assert_eq!(
        ok("`金额(元)` >= 1"),
        c("金额(元)", Test::Compare(Comparison::Ge, num("1")))
    );
    assert_eq!(ok("due_date = 1"), eq("due_date", num("1")));
    assert_eq!(ok("_内部2 = 1"), eq("_内部2", num("1")));
}

#[test]
fn literals() {
    assert_eq!(ok(r"a = 'it\'s'"), eq("a", text("it's")));
    assert_eq!(ok(r#"a = "say \"hi\"""#), eq("a", text("say \"hi\"")));
    assert_eq!(ok(r"a = 'x\\y\nz\t'"), eq("a", text("x\\y\nz\t")));
    assert_eq!(ok("a = ''"), eq("a", text("")));
    assert_eq!(ok("a = -12.50"), eq("a", num("-12.50")));
    assert_eq!(ok("a = 007"), eq("a", num("007")));
    assert_eq!(
        ok("a = TRUE"),
        eq("a", Operand::Literal(Literal::Bool(true)))
    );
    assert_eq!(
        ok("a = false"),
        eq("a", Operand::Literal(Literal::Bool(false)))
    );
}

#[test]
fn periods_and_variables() {
    for (word, p) in period::PERIOD_WORDS {
        assert_eq!(ok(&format!("d = {word}")), eq("d", Operand::Period(p)));
        let upper = word.to_uppercase();
        assert_eq!(ok(&format!("d = {upper}")), eq("d", Operand::Period(p)));
    }
    let period = |p| Operand::Period(p);
    assert_eq!(
        ok("d = last 30 days"),
        eq("d", period(Period::LastDays(30)))
    );
    assert_eq!(ok("d = Next 7 Days"), eq("d", period(Period::NextDays(7))));
    assert_eq!(
        ok("d = last 007 days"),
        eq("d", period(Period::LastDays(7)))
    );
    assert_eq!(
        ok("d = last 3660 days"),
        eq("d", period(Period::LastDays(3660)))
    );
    assert_eq!(ok("d = next 1 days"), eq("d", period(Period::NextDays(1))));
    assert_eq!(
        ok("负责人 = $me"),
        eq("负责人", Operand::Variable("me".into()))
    );
    assert_eq!(
        ok("部门 in ($my_department, $今天)"),
        c(
            "部门",
            Test::In(vec![
                Operand::Variable("my_department".into()),
                Operand::Variable("今天".into()),
            ])
        )
    );
}

#[test]
fn display_is_canonical() {
    let cases = [
        ("a == 1", "a = 1"),
        ("a <> 1", "a != 1"),
        ("a ≠ 1", "a != 1"),
        ("a ≤ 1", "a <= 1"),
        ("a ≥ 1", "a >= 1"),
        ("a>1", "a > 1"),
        ("a<1", "a < 1"),
        (r#"a = "it's \"x\"""#, r#"a = 'it\'s "x"'"#),
        (r"a = 'x\\y\nz\t'", r"a = 'x\\y\nz\t'"),
        ("a CONTAINS 'x'", "a contains 'x'"),
        ("a Starts With 'x'", "a starts with 'x'"),
        ("a not contains 'x'", "a not contains 'x'"),
        ("a in(1,2 , 3)", "a in (1, 2, 3)"),
        ("a NOT IN ($me)", "a not in ($me)"),
        (
            "a between yesterday and TOMORROW",
            "a between yesterday and tomorrow",
        ),
        ("a not between 1 and 2", "a not between 1 and 2"),
        ("a is empty", "a is empty"),
        ("a IS NOT EMPTY", "a is not empty"),
        ("d = LAST 30 DAYS", "d = last 30 days"),
        ("d = next 007 days", "d = next 7 days"),
        ("today = today", "`today` = today"),
        ("not = 1", "`not` = 1"),
        ("AND = 1", "`AND` = 1"),
        ("`客户 名称` = 1", "`客户 名称` = 1"),
        ("`客户名称` = 1", "客户名称 = 1"),
        ("`a``b` = 1", "`a``b` = 1"),
        ("`1st` = 1", "`1st` = 1"),
        ("NOT (a = 1 OR b = 2)", "not (a = 1 or b = 2)"),
        ("not not a = 1", "not not a = 1"),
        ("(a = 1 or b = 1) and c = 1", "(a = 1 or b = 1) and c = 1"),
        ("a = 1 or (b = 1 and c = 1)", "a = 1 or b = 1 and c = 1"),
        ("(a = 1 or b = 1) or c = 1", "(a = 1 or b = 1) or c = 1"),
        ("((a = 1))", "a = 1"),
    ];
    for (input, canonical) in cases {
        let filter = ok(input);
        assert_eq!(filter.to_string(), canonical, "{input}");
        assert_eq!(ok(canonical), filter, "{canonical}");
    }
}

#[test]
fn display_of_groups_parse_cannot_produce() {
    let a = eq("a", num("1"));
    assert_eq!(Filter::And(vec![a.clone()]).to_string(), "a = 1");
    assert_eq!(Filter::Or(vec![]).to_string(), "()");
    assert_eq!(
        Filter::And(vec![Filter::Or(vec![a.clone()]), a]).to_string(),
        "(a = 1) and a = 1"
    );
}

#[test]
fn fields_and_conditions() {
    let filter =
        ok("状态 = 'x' and (金额 > 1 or 状态 = 'y') and not `客户 名称` is empty and 金额 < 9");
    assert_eq!(filter.fields(), vec!["状态", "金额", "客户 名称"]);
    assert_eq!(filter.conditions(), 5);
    assert_eq!(ok("a = 1").conditions(), 1);
    // Names are kept as written; case-insensitive matching is the caller's.
    assert_eq!(ok("A = 1 or a = 1").fields(), vec!["A", "a"]);
}

#[test]
fn from_str_is_parse() {
    let parsed: Result<Filter, CoreError> = "a = 1".parse();
    assert_eq!(parsed, Ok(eq("a", num("1"))));
}
