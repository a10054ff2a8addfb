//! Check digits of Chinese identifiers and bank cards.
//!
//! A field typed as one of these identifiers is checked when a record is
//! saved, so a mistyped number is caught at entry rather than when someone
//! later relies on it. Each function returns the value in the one form it is
//! stored and compared in, or a short reason that can be shown to the user as
//! it is. The checks prove a number is well formed, never that it was issued.

use chrono::{Datelike, NaiveDate};

const ID_LENGTH: &str = "an identity number has 18 characters";
const ID_OLD_FORMAT: &str =
    "15-digit identity numbers are no longer accepted; enter the 18-digit number";
const ID_DIGITS: &str = "the first 17 characters of an identity number must be digits";
const ID_LAST_CHAR: &str = "the last character of an identity number must be a digit or X";
const ID_BIRTH_DATE: &str = "the birth date in the identity number is not a real date";
const ID_CHECK: &str = "the identity number fails its check character; it is mistyped";

const CARD_CHARS: &str = "a bank card number may contain only digits, spaces and hyphens";
const CARD_LENGTH: &str = "a bank card number has 12 to 19 digits";
const CARD_CHECK: &str = "the bank card number fails its check digit; it is mistyped";

const USCC_LENGTH: &str = "a unified social credit code has 18 characters";
const USCC_CHARS: &str =
    "a unified social credit code uses only digits and capital letters other than I, O, S, V and Z";
const USCC_DIVISION: &str =
    "characters 3 to 8 of a unified social credit code are the area code and must be digits";
const USCC_CHECK: &str = "the unified social credit code fails its check character; it is mistyped";

/// Weights of GB 11643-1999 (2^(18-i) mod 11) for the first 17 digits.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character indexed by the weighted sum mod 11; `X` stands for 10.
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// The 31 characters of GB 32100-2015; a character's value is its index.
/// I, O, S, V and Z are left out because they are read as 1, 0, 5, U and 2.
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of GB 32100-2015 (3^(i-1) mod 31) for the first 17 characters.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A China resident identity number (GB 11643-1999), with an uppercase `X`.
///
/// The 15-digit first-generation numbers get their own reason: those cards
/// lapsed in 2013 and every holder now has an 18-digit number. The birth
/// date is checked because the mod-11 sum alone accepts numbers no person
/// could hold; the year floor keeps out typos such as `0985`.
pub fn resident_id(input: &str) -> Result<String, &'static str> {
    let id = input.trim().to_ascii_uppercase();
    let length = id.chars().count();
    if length != 18 {
        if length == 15 && id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ID_OLD_FORMAT);
        }
        return Err(ID_LENGTH);
    }
    let mut chars = id.chars();
    if !chars.by_ref().take(17).all(|c| c.is_ascii_digit()) {
        return Err(ID_DIGITS);
    }
    if !chars.next().is_some_and(|c| c.is_ascii_digit() || c == 'X') {
        return Err(ID_LAST_CHAR);
    }
    // All 18 characters are ASCII from here on.
    let (body, last) = id.as_bytes().split_at(17);
    if !birth_date_is_real(&body[6..14]) {
        return Err(ID_BIRTH_DATE);
    }
    if last[0] != resident_check_char(body) {
        return Err(ID_CHECK);
    }
    Ok(id)
}

/// A bank card number (ISO/IEC 7812-1), as digits only.
///
/// Spaces and hyphens are dropped because cards print the number in groups
/// and people copy it that way.
pub fn bank_card(input: &str) -> Result<String, &'static str> {
    let mut digits = String::with_capacity(19);
    for c in input.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' => {}
            _ => return Err(CARD_CHARS),
        }
    }
    if !(12..=19).contains(&digits.len()) {
        return Err(CARD_LENGTH);
    }
    let (body, last) = digits.as_bytes().split_at(digits.len() - 1);
    if last[0] != luhn_check_digit(body) {
        return Err(CARD_CHECK);
    }
    Ok(digits)
}

/// A unified social credit code (GB 32100-2015), in uppercase.
///
/// The registration authority and entity type (characters 1 and 2) are not
/// checked against their lists: those lists grow, and the check character
/// already catches the typos this is meant to catch.
pub fn social_credit_code(input: &str) -> Result<String, &'static str> {
    let code = input.trim().to_ascii_uppercase();
    if code.chars().count() != 18 {
        return Err(USCC_LENGTH);
    }
    if !code.is_ascii() {
        return Err(USCC_CHARS);
    }
    let bytes = code.as_bytes();
    let mut values = [0u32; 18];
    for (value, &b) in values.iter_mut().zip(bytes) {
        *value = uscc_value(b).ok_or(USCC_CHARS)?;
    }
    if !bytes[2..8].iter().all(u8::is_ascii_digit) {
        return Err(USCC_DIVISION);
    }
    let expected = uscc_check_value(values[..17].iter().copied());
    if values[17] != expected {
        return Err(USCC_CHECK);
    }
    Ok(code)
}

/// `yyyymmdd` as ASCII digits, already known to be digits.
fn birth_date_is_real(digits: &[u8]) -> bool {
    let number = |range: std::ops::Range<usize>| {
        digits[range]
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
    };
    let Ok(year) = i32::try_from(number(0..4)) else {
        return false;
    };
    NaiveDate::from_ymd_opt(year, number(4..6), number(6..8))
        .is_some_and(|date| date.year() >= 1900)
}

/// Check character for 17 ASCII digits.
fn resident_check_char(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK_CHARS[(sum % 11) as usize]
}

/// Luhn check digit (as an ASCII digit) to append to `body`.
fn luhn_check_digit(body: &[u8]) -> u8 {
    // Counting from the right of the finished number the check digit is
    // position 0, so the body's rightmost digit is the first one doubled.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    b'0' + ((10 - sum % 10) % 10) as u8
}

fn uscc_value(b: u8) -> Option<u32> {
    USCC_ALPHABET
        .iter()
        .position(|&a| a == b)
        .and_then(|i| u32::try_from(i).ok())
}

/// Value of the check character for the first 17 character values.
fn uscc_check_value(values: impl Iterator<Item = u32>) -> u32 {
    let sum: u32 = values.zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    (31 - sum % 31) % 31
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Appends the GB 11643 check character, so tests can build valid ids.
    fn complete_id(body: &str) -> String {
        format!("{body}{}", char::from(resident_check_char(body.as_bytes())))
    }

    fn complete_card(body: &str) -> String {
        format!("{body}{}", char::from(luhn_check_digit(body.as_bytes())))
    }

    fn complete_uscc(body: &str) -> String {
        let values = body.bytes().map(|b| uscc_value(b).expect("alphabet char"));
        let check = USCC_ALPHABET[uscc_check_value(values) as usize];
        format!("{body}{}", char::from(check))
    }

    type Check = fn(&str) -> Result<String, &'static str>;

    fn check_table(check: Check, table: &[(&str, Result<&str, &str>)]) {
        for &(input, expected) in table {
            assert_eq!(
                check(input).as_deref().map_err(|e| *e),
                expected,
                "{input:?}"
            );
        }
    }

    /// Values built with a computed check character are accepted as they are.
    fn accepts_built(check: Check, complete: fn(&str) -> String, bodies: &[&str]) {
        for body in bodies {
            let value = complete(body);
            assert_eq!(check(&value), Ok(value.clone()));
        }
    }

    #[test]
    fn resident_ids() {
        check_table(
            resident_id,
            &[
                ("11010519491231002X", Ok("11010519491231002X")), // GB 11643's example
                (" 11010519491231002x\n", Ok("11010519491231002X")),
                ("", Err(ID_LENGTH)),
                ("11010519491231002", Err(ID_LENGTH)),
                ("11010519491231002X1", Err(ID_LENGTH)),
                ("110105491231002", Err(ID_OLD_FORMAT)),
                ("1101051949123100２X", Err(ID_DIGITS)),
                ("1101 519491231002X", Err(ID_DIGITS)),
                ("11010519491231002Y", Err(ID_LAST_CHAR)),
                ("110105194912310025", Err(ID_CHECK)),
                ("11010519491231003X", Err(ID_CHECK)),
            ],
        );
        accepts_built(
            resident_id,
            complete_id,
            &[
                "44030420000229123",
                "51010719000101001",
                "31011520991231987",
            ],
        );
        for body in [
            "11010520230229123", // 2023 is not a leap year
            "11010519001301123", // month 13
            "11010519490100123", // day 0
            "11010519490431123", // 31 April
            "11010518991231123", // before 1900
            "11010500000101123",
        ] {
            assert_eq!(
                resident_id(&complete_id(body)),
                Err(ID_BIRTH_DATE),
                "{body}"
            );
        }
    }

    #[test]
    fn bank_cards() {
        check_table(
            bank_card,
            &[
                ("4111111111111111", Ok("4111111111111111")),
                ("4539578763621486", Ok("4539578763621486")),
                ("5555555555554444", Ok("5555555555554444")),
                ("378282246310005", Ok("378282246310005")),
                (" 4111 1111-1111 1111 ", Ok("4111111111111111")),
                ("", Err(CARD_LENGTH)),
                ("79927398713", Err(CARD_LENGTH)), // the textbook Luhn example
                ("41111111111111111110", Err(CARD_LENGTH)),
                ("4111.1111.1111.1111", Err(CARD_CHARS)),
                ("4111111111111111a", Err(CARD_CHARS)),
                ("4111111111111112", Err(CARD_CHECK)),
                ("6222021234567890120", Err(CARD_CHECK)),
            ],
        );
        accepts_built(
            bank_card,
            complete_card,
            &["62220212345678901", "62284800000000000", "62148300000"],
        );
    }

    #[test]
    fn social_credit_codes() {
        check_table(
            social_credit_code,
            &[
                ("91350100M000100Y43", Ok("91350100M000100Y43")),
                ("91110000600037341L", Ok("91110000600037341L")),
                (" 91110000600037341l ", Ok("91110000600037341L")),
                ("", Err(USCC_LENGTH)),
                ("91350100M000100Y4", Err(USCC_LENGTH)),
                ("91350100M000100Y431", Err(USCC_LENGTH)),
                ("91350100M0001OOY43", Err(USCC_CHARS)), // letter O for zero
                ("9135010OM000100Y43", Err(USCC_CHARS)),
                ("91350100M000100Y4-", Err(USCC_CHARS)),
                ("91350100M000100Y4３", Err(USCC_CHARS)),
                ("913A0100M000100Y43", Err(USCC_DIVISION)),
                ("91350100M000100Y44", Err(USCC_CHECK)),
                ("91110000600037341M", Err(USCC_CHECK)),
            ],
        );
        accepts_built(
            social_credit_code,
            complete_uscc,
            &[
                "91440300MA5DXXXX0",
                "12100000400000624",
                "Y1320583MAC4YBN2L",
            ],
        );
    }

    fn valid_resident_id() -> impl Strategy<Value = String> {
        let first_day = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a real date");
        ("[1-9][0-9]{5}", 0u64..73_000, "[0-9]{3}").prop_map(move |(area, days, seq)| {
            let born = first_day + chrono::Days::new(days);
            complete_id(&format!("{area}{}{seq}", born.format("%Y%m%d")))
        })
    }

    fn valid_bank_card() -> impl Strategy<Value = String> {
        "[1-9][0-9]{10,17}".prop_map(|body| complete_card(&body))
    }

    fn valid_uscc() -> impl Strategy<Value = String> {
        "[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{9}".prop_map(|body| complete_uscc(&body))
    }

    fn replace_at(s: &str, i: usize, with: u8) -> String {
        let mut bytes = s.as_bytes().to_vec();
        bytes[i] = with;
        String::from_utf8(bytes).expect("ASCII stays UTF-8")
    }

    fn swap_at(s: &str, i: usize) -> String {
        let mut bytes = s.as_bytes().to_vec();
        bytes.swap(i, i + 1);
        String::from_utf8(bytes).expect("ASCII stays UTF-8")
    }

    proptest! {
        #[test]
        fn resident_id_detects_one_wrong_digit(
            id in valid_resident_id(), i in 0usize..18, digit in b'0'..=b'9',
        ) {
            prop_assume!(id.as_bytes()[i] != digit);
            prop_assert_eq!(resident_id(&id), Ok(id.clone()));
            prop_assert!(resident_id(&replace_at(&id, i, digit)).is_err());
        }

        /// Every adjacent pair, the check character included: the weights
        /// of neighbouring positions differ mod 11.
        #[test]
        fn resident_id_detects_adjacent_swaps(id in valid_resident_id(), i in 0usize..17) {
            prop_assume!(id.as_bytes()[i] != id.as_bytes()[i + 1]);
            prop_assert!(resident_id(&swap_at(&id, i)).is_err());
        }

        #[test]
        fn bank_card_detects_one_wrong_digit(
            card in valid_bank_card(), i in 0usize..19, digit in b'0'..=b'9',
        ) {
            let i = i % card.len();
            prop_assume!(card.as_bytes()[i] != digit);
            prop_assert_eq!(bank_card(&card), Ok(card.clone()));
            prop_assert!(bank_card(&replace_at(&card, i, digit)).is_err());
        }

        /// Luhn's one blind spot is swapping 0 and 9, which both contribute
        /// 0 and 9 whether doubled or not.
        #[test]
        fn bank_card_detects_adjacent_swaps_except_09(card in valid_bank_card(), i in 0usize..18) {
            let i = i % (card.len() - 1);
            let pair = (card.as_bytes()[i], card.as_bytes()[i + 1]);
            prop_assume!(pair.0 != pair.1 && pair != (b'0', b'9') && pair != (b'9', b'0'));
            prop_assert!(bank_card(&swap_at(&card, i)).is_err());
        }

        /// Any character, not just a digit, replaced by any other of the 31:
        /// weights are nonzero mod the prime 31, so no change cancels out.
        #[test]
        fn social_credit_code_detects_one_wrong_char(
            code in valid_uscc(), i in 0usize..18, k in 0usize..31,
        ) {
            let with = USCC_ALPHABET[k];
            prop_assume!(code.as_bytes()[i] != with);
            prop_assert_eq!(social_credit_code(&code), Ok(code.clone()));
            prop_assert!(social_credit_code(&replace_at(&code, i, with)).is_err());
        }

        #[test]
        fn social_credit_code_detects_adjacent_swaps(code in valid_uscc(), i in 0usize..17) {
            prop_assume!(code.as_bytes()[i] != code.as_bytes()[i + 1]);
            prop_assert!(social_credit_code(&swap_at(&code, i)).is_err());
        }

        /// However the card is grouped, the same digits come back.
        #[test]
        fn bank_card_ignores_grouping(
            card in valid_bank_card(), seps in proptest::collection::vec("[ -]{0,1}", 5),
        ) {
            let grouped: String = card
                .as_bytes()
                .chunks(4)
                .zip(seps.iter().chain(std::iter::repeat(&String::new())))
                .map(|(group, sep)| format!("{}{sep}", String::from_utf8_lossy(group)))
                .collect();
            prop_assert_eq!(bank_card(&grouped), Ok(card));
        }
    }
}
