//! Malformed input: where the error points and what it says, the limits, and
//! hostile input that must fail cleanly rather than overflow the stack.

use super::super::*;
use super::ok;

fn fails(input: &str) -> (usize, String) {
    match parse(input) {
        Err(CoreError::Filter { at, reason }) => (at, reason),
        other => panic!("{input:?} parsed to {other:?}"),
    }
}

#[test]
fn error_positions_and_messages() {
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "filter is empty"),
        (" \t　", 0, "filter is empty"),
        (
            "名称 = '未完",
            5,
            "unterminated text: the closing ' is missing",
        ),
        ("amount =", 8, "expected a value after `=`"),
        (
            "amount >= and b = 1",
            10,
            "expected a value after `>=`, found `and`",
        ),
        ("客户名称 = 1 and 金额 ≥", 17, "expected a value after `≥`"),
        ("amount =< 5", 7, "unknown operator `=<`"),
        ("amount => 5", 7, "unknown operator `=>`"),
        (
            "a = 1 b = 2",
            6,
            "unexpected `b`: join conditions with `and` or `or`",
        ),
        (
            "a = 1 'x'",
            6,
            "unexpected a text value: join conditions with `and` or `or`",
        ),
        ("a = 1)", 5, "unexpected `)` without a matching `(`"),
        ("()", 1, "empty parentheses"),
        ("a = 1 and ( )", 12, "empty parentheses"),
        ("a in ()", 6, "`in` needs at least one value"),
        ("a not in ( )", 11, "`not in` needs at least one value"),
        ("a in 1", 5, "expected `(` after `in`, like `in (1, 2)`"),
        ("a in (1,)", 8, "expected a value after `,`, found `)`"),
        ("a in (1 2)", 8, "expected `,` or `)`, found the number 2"),
        ("a in (1, 2", 10, "missing `)` to close the `in` list"),
        (
            "d = last 0 days",
            9,
            "the number of days must be a whole number from 1 to 3660",
        ),
        (
            "d = last 3661 days",
            9,
            "the number of days must be a whole number from 1 to 3660",
        ),
        (
            "d = next -1 days",
            9,
            "the number of days must be a whole number from 1 to 3660",
        ),
        (
            "d = next 1.5 days",
            9,
            "the number of days must be a whole number from 1 to 3660",
        ),
        (
            "d = last 99999999999 days",
            9,
            "the number of days must be a whole number from 1 to 3660",
        ),
        ("d = last 7", 10, "expected `days` after `last 7`"),
        ("d = last 7 day", 11, "expected `days` after `last 7`"),
        (
            "d = last week",
            9,
            "expected a number of days after `last`, like `last 7 days`",
        ),
        (
            "d = last_7_days",
            4,
            "unquoted text `last_7_days`: put text in quotes, like 'last_7_days'",
        ),
        (
            "status = open",
            9,
            "unquoted text `open`: put text in quotes, like 'open'",
        ),
        ("(a = 1", 6, "missing `)` to close the `(` at character 0"),
        ("(a = 1 b = 2)", 7, "expected `and`, `or` or `)`, found `b`"),
        ("a = 1 and", 9, "expected a condition after `and`"),
        (
            "a = 1 and (b = 2 or )",
            20,
            "expected a condition after `or`, found `)`",
        ),
        ("and a = 1", 0, "expected a condition before `and`"),
        ("a = 1 or or b = 2", 9, "expected a condition before `or`"),
        (
            "a",
            1,
            "expected an operator such as `=`, `contains` or `in` after `a`",
        ),
        (
            "a 1",
            2,
            "expected an operator such as `=`, `contains` or `in` after `a`, found the number 1",
        ),
        ("a is null", 5, "expected `empty` or `not empty` after `is`"),
        ("a is not null", 9, "expected `empty` after `is not`"),
        (
            "a not like 'x'",
            6,
            "expected `contains`, `in` or `between` after `not`",
        ),
        (
            "a not",
            5,
            "expected `contains`, `in` or `between` after `not`",
        ),
        ("a starts 'x'", 9, "expected `with` after `starts`"),
        (
            "a contains today",
            11,
            "`contains` needs a text, number or true/false value",
        ),
        (
            "a starts with $me",
            14,
            "`starts with` needs a text, number or true/false value",
        ),
        (
            "a between 1 or 2",
            12,
            "expected `and` between the two values of `between`",
        ),
        (
            "a not between 1",
            15,
            "expected `and` between the two values of `not between`",
        ),
        ("not", 3, "expected a condition after `not`"),
        ("not )", 4, "expected a condition after `not`, found `)`"),
        ("'x' = a", 0, "expected a condition, found a text value"),
        ("= 1", 0, "expected a condition, found `=`"),
        ("a = 1.", 5, "expected a digit after `.`"),
        ("a = 1e3", 5, "unexpected `e` right after a number"),
        (
            r"a = 'x\u0041'",
            6,
            r#"unknown escape: only \\, \', \", \n and \t are allowed"#,
        ),
        (
            "a = 'x\ny'",
            6,
            r"text cannot contain control characters such as line breaks: write \n or \t",
        ),
        ("a = $", 4, "expected a variable name after `$`"),
        (
            "a in （1）",
            5,
            "use the ASCII `(` instead of the full-width `（`",
        ),
        ("a = 1 && b = 2", 6, "unexpected character `&`"),
        ("`` = 1", 0, "a field name in backticks cannot be empty"),
        (
            "`a = 1",
            0,
            "unterminated field name: the closing ` is missing",
        ),
    ];
    for &(input, at, reason) in cases {
        assert_eq!(fails(input), (at, reason.to_owned()), "{input:?}");
    }
}

#[test]
fn the_first_error_in_reading_order_wins() {
    // The unterminated text comes after the missing `and`.
    assert_eq!(fails("a = 1 b = 'x").0, 6);
    assert_eq!(fails("a =< 1 and b = 'x").0, 2);
}

#[test]
fn length_limit_counts_characters_and_comes_first() {
    let fits = format!("名称 = '{}'", "长".repeat(MAX_FILTER_CHARS - 7));
    assert_eq!(fits.chars().count(), MAX_FILTER_CHARS);
    assert_eq!(ok(&fits).conditions(), 1);
    let long = format!("名称 = '{}'", "长".repeat(MAX_FILTER_CHARS - 6));
    assert_eq!(
        fails(&long),
        (4096, "filter is longer than 4096 characters".to_owned())
    );
    // Checked before lexing: the unterminated string is not what is reported.
    assert_eq!(fails(&"'".repeat(10_000)).0, MAX_FILTER_CHARS);
}

#[test]
fn nesting_limit() {
    let depth_error = |at| (at, "filter is nested deeper than 10 levels".to_owned());
    let parens = |n: usize| format!("{}a = 1{}", "(".repeat(n), ")".repeat(n));
    assert_eq!(ok(&parens(MAX_DEPTH)).conditions(), 1);
    assert_eq!(fails(&parens(MAX_DEPTH + 1)), depth_error(MAX_DEPTH));
    let nots = |n: usize| format!("{}a = 1", "not ".repeat(n));
    assert_eq!(ok(&nots(MAX_DEPTH)).conditions(), 1);
    assert_eq!(fails(&nots(MAX_DEPTH + 1)), depth_error(4 * MAX_DEPTH));
    let mixed = |n: usize| format!("{}a = 1{}", "not (".repeat(n), ")".repeat(n));
    assert_eq!(ok(&mixed(MAX_DEPTH / 2)).conditions(), 1);
    assert_eq!(
        fails(&mixed(MAX_DEPTH / 2 + 1)),
        depth_error(5 * MAX_DEPTH / 2)
    );
    // Depth is per path, not in total.
    let wide = vec![parens(MAX_DEPTH); 5].join(" and ");
    assert_eq!(ok(&wide).conditions(), 5);
}

#[test]
fn hostile_input_fails_without_deep_recursion() {
    let hostile = [
        "(".repeat(MAX_FILTER_CHARS),
        "not ".repeat(MAX_FILTER_CHARS / 4),
        "not (".repeat(MAX_FILTER_CHARS / 5),
        "((not ".repeat(MAX_FILTER_CHARS / 6),
        ")".repeat(MAX_FILTER_CHARS),
        format!("a in ({}", "(".repeat(MAX_FILTER_CHARS - 6)),
        "a = 1 and (".repeat(MAX_FILTER_CHARS / 11),
        "a between ".repeat(MAX_FILTER_CHARS / 10),
        "`".repeat(MAX_FILTER_CHARS),
        "\\".repeat(MAX_FILTER_CHARS),
    ];
    // A small stack: the parser's recursion is bounded by MAX_DEPTH.
    let handle = std::thread::Builder::new()
        .stack_size(128 * 1024)
        .spawn(move || {
            hostile
                .iter()
                .map(|input| (input.chars().count(), parse(input).is_err()))
                .collect::<Vec<_>>()
        })
        .expect("spawn");
    for (len, failed) in handle.join().expect("no stack overflow") {
        assert!(len <= MAX_FILTER_CHARS);
        assert!(failed);
    }
    assert_eq!(
        fails(&"(".repeat(MAX_FILTER_CHARS)),
        (
            MAX_DEPTH,
            "filter is nested deeper than 10 levels".to_owned()
        )
    );
}

#[test]
fn condition_limit() {
    let many = |n: usize| vec!["a=1"; n].join(" or ");
    assert_eq!(ok(&many(MAX_CONDITIONS)).conditions(), MAX_CONDITIONS);
    assert_eq!(
        fails(&many(MAX_CONDITIONS + 1)),
        (
            7 * MAX_CONDITIONS,
            "filter has more than 100 conditions".to_owned()
        )
    );
    let nested = format!("({}) and b = 1", many(MAX_CONDITIONS));
    assert_eq!(fails(&nested).1, "filter has more than 100 conditions");
}

#[test]
fn in_list_limit() {
    let list = |n: usize| format!("a in ({})", vec!["1"; n].join(","));
    match ok(&list(MAX_IN_VALUES)) {
        Filter::Condition(Condition {
            test: Test::In(values),
            ..
        }) => assert_eq!(values.len(), MAX_IN_VALUES),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fails(&list(MAX_IN_VALUES + 1)),
        (
            6 + 2 * MAX_IN_VALUES,
            "`in` has more than 500 values".to_owned()
        )
    );
}

#[test]
fn name_limit() {
    let name = "名".repeat(MAX_NAME_CHARS);
    assert_eq!(ok(&format!("{name} = 1")).fields(), vec![name.as_str()]);
    assert_eq!(ok(&format!("`{name}` = 1")).fields(), vec![name.as_str()]);
    let long = "名".repeat(MAX_NAME_CHARS + 1);
    assert_eq!(
        fails(&format!("{long} = 1")),
        (0, "a name is longer than 64 characters".to_owned())
    );
    assert_eq!(
        fails(&format!("a = 1 or `{long}` = 1")),
        (9, "a field name is longer than 64 characters".to_owned())
    );
    assert_eq!(fails(&format!("a = ${long}")).0, 5);
}

/// The examples in `docs/filter-language.md`.
#[test]
fn documented_examples() {
    for input in [
        "状态 = '跟进中' and 金额 >= 10000",
        "客户名称 contains '华' and (负责人 = $me or 截止日期 < today)",
        "amount between 100 and 500 and due_date = this_month",
        "`客户 名称` starts with '上海' and 标签 not in ('作废', '测试')",
        "创建时间 = last 30 days and 备注 is not empty",
        "`not` contains 'x'",
        "`a``b` = 1 or `金额(元)` > 1 or `1st contact` = 1 or `e-mail` = 1",
        "到期日 <= today and d between last_month and this_month",
    ] {
        ok(input);
    }
    let cases: &[(&str, usize, &str)] = &[
        ("金额 >=", 5, "expected a value after `>=`"),
        ("金额 =< 5", 3, "unknown operator `=<`"),
        (
            "状态 = '新",
            5,
            "unterminated text: the closing ' is missing",
        ),
        (
            "状态 = 新",
            5,
            "unquoted text `新`: put text in quotes, like '新'",
        ),
        (
            "a = 1 b = 2",
            6,
            "unexpected `b`: join conditions with `and` or `or`",
        ),
        ("标签 in ()", 7, "`in` needs at least one value"),
        (
            "日期 = last 0 days",
            10,
            "the number of days must be a whole number from 1 to 3660",
        ),
        ("(a = 1", 6, "missing `)` to close the `(` at character 0"),
    ];
    for &(input, at, reason) in cases {
        assert_eq!(fails(input), (at, reason.to_owned()), "{input:?}");
    }
    assert_eq!(
        ok("状态==\"新\" OR (金额≥1000 AND 截止日期 < TODAY)").to_string(),
        "状态 = '新' or 金额 >= 1000 and 截止日期 < today"
    );
    assert_eq!(
        ok("状态 = '新' or 状态 = '跟进中' and 金额 > 1000"),
        ok("状态 = '新' or (状态 = '跟进中' and 金额 > 1000)")
    );
    assert_eq!(
        ok("not 状态 = '关闭' and 金额 > 0"),
        ok("(not 状态 = '关闭') and 金额 > 0")
    );
}
