//! Shapes of the text field types: email, link, mobile and landline numbers.
//!
//! People paste these from business cards, chat windows and spreadsheets, so
//! each check accepts the common ways of writing a value and returns the one
//! form it is stored, searched and compared in. A rejection comes with a
//! short reason that can be shown to the user as it is. Shape only: nothing
//! here proves an address or a number exists.

use std::sync::LazyLock;

use regex::Regex;

const EMAIL_AT: &str = "an email address needs exactly one @";
const EMAIL_LOCAL_EMPTY: &str = "the part of an email address before the @ is empty";
const EMAIL_LOCAL_LONG: &str = "the part of an email address before the @ is at most 64 characters";
const EMAIL_LOCAL_CHARS: &str =
    "the part of an email address before the @ has a space or a character that is not allowed";
const EMAIL_LOCAL_DOTS: &str =
    "the part of an email address before the @ cannot start or end with a dot or have two in a row";
const EMAIL_DOMAIN_DOT: &str = "the domain of an email address needs a dot, as in example.com";
const EMAIL_DOMAIN_LABEL: &str = "the domain of an email address is not a valid host name";
const EMAIL_DOMAIN_TOP: &str = "the domain of an email address must end in a name, not a number";
const EMAIL_LONG: &str = "an email address is at most 254 characters";

const URL_LONG: &str = "a link is at most 2048 characters";
const URL_SPACE: &str = "a link cannot contain spaces or invisible characters";
const URL_SCHEME: &str = "a link must start with http:// or https://";
const URL_USERINFO: &str = "a link must not contain a user name or password before the host";
const URL_HOST: &str = "a link needs a host name after the //";
const URL_HOST_CHARS: &str =
    "the host name of a link may contain only letters, digits, dots, hyphens and underscores";
const URL_PORT: &str = "the port of a link must be a number up to 65535";

const MOBILE_CHARS: &str = "a mobile number may contain only digits, spaces, hyphens and +86";
const MOBILE_SEPARATORS: &str = "spaces and hyphens in a mobile number may only separate digits";
const MOBILE_LENGTH: &str = "a mainland mobile number has 11 digits";
const MOBILE_PREFIX: &str = "a mainland mobile number starts with 13 to 19";

const LANDLINE_SHAPE: &str =
    "a landline is an area code starting with 0 and a 7- or 8-digit number, as in 010-62345678";
const LANDLINE_IS_MOBILE: &str = "this is a mobile number; use a mobile phone field for it";

/// A mailbox address, with the domain lowercased.
///
/// The local part keeps its case: servers may treat it as case-sensitive,
/// and changing it would change what the user typed. Quoted local parts and
/// IP-literal domains are refused: legal, but so rare in business data that
/// one is far more likely a paste error than an address.
pub fn email(input: &str) -> Result<String, &'static str> {
    let address = input.trim();
    let (local, domain) = match address.split_once('@') {
        Some((local, domain)) if !domain.contains('@') => (local, domain),
        _ => return Err(EMAIL_AT),
    };
    if local.is_empty() {
        return Err(EMAIL_LOCAL_EMPTY);
    }
    if local.len() > 64 {
        return Err(EMAIL_LOCAL_LONG);
    }
    if local.chars().any(|c| {
        hidden(c)
            || matches!(
                c,
                '(' | ')' | '<' | '>' | '[' | ']' | ':' | ';' | ',' | '\\' | '"'
            )
    }) {
        return Err(EMAIL_LOCAL_CHARS);
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(EMAIL_LOCAL_DOTS);
    }
    // Checked after lowercasing: that can lengthen a label (`İ` → `i̇`), and
    // the stored form must pass again.
    let domain = domain.to_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(EMAIL_DOMAIN_DOT);
    }
    if !labels.iter().all(|label| host_label(label)) {
        return Err(EMAIL_DOMAIN_LABEL);
    }
    if labels
        .last()
        .is_some_and(|top| top.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(EMAIL_DOMAIN_TOP);
    }
    let normalised = format!("{local}@{domain}");
    if normalised.len() > 254 {
        return Err(EMAIL_LONG);
    }
    Ok(normalised)
}

/// A web link, with the scheme lowercased.
///
/// Only `http` and `https`: a link field is rendered as something to click,
/// and `javascript:` or `file:` there would be a hazard. Credentials before
/// the host are refused because `https://bank.example@evil.example` is a
/// classic disguise and a password does not belong in a record.
pub fn url(input: &str) -> Result<String, &'static str> {
    let link = input.trim();
    if link.chars().count() > 2048 {
        return Err(URL_LONG);
    }
    if link.chars().any(hidden) {
        return Err(URL_SPACE);
    }
    let (scheme, rest) = link.split_once("://").ok_or(URL_SCHEME)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(URL_SCHEME);
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(URL_USERINFO);
    }
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal; its colons are not the port separator.
        Some(bracketed) => {
            let (inner, after) = bracketed.split_once(']').ok_or(URL_HOST)?;
            if inner.is_empty() {
                return Err(URL_HOST);
            }
            if !inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return Err(URL_HOST_CHARS);
            }
            match after {
                "" => (inner, None),
                _ => (inner, Some(after.strip_prefix(':').ok_or(URL_PORT)?)),
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if !host.chars().any(char::is_alphanumeric) {
        return Err(URL_HOST);
    }
    if !host
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | '~' | ':'))
    {
        return Err(URL_HOST_CHARS);
    }
    // An empty port (`host:/`) is allowed by RFC 3986 and means the default.
    if let Some(port) = port
        && !port.is_empty()
        && (port.len() > 5 || port.parse::<u16>().is_err())
    {
        return Err(URL_PORT);
    }
    Ok(format!("{scheme}://{rest}"))
}

/// A mainland China mobile number, as its 11 digits.
///
/// The country code is dropped because every number this accepts is in +86,
/// and one stored form is what makes duplicates findable.
pub fn mobile_phone(input: &str) -> Result<String, &'static str> {
    let number = input.trim();
    let (explicit_country, rest) = match ["(+86)", "+86"]
        .into_iter()
        .find_map(|prefix| number.strip_prefix(prefix))
    {
        Some(rest) => (true, rest.strip_prefix([' ', '-']).unwrap_or(rest)),
        None => (false, number),
    };
    let mut digits = String::with_capacity(15);
    let mut after_digit = false;
    for c in rest.chars() {
        match c {
            '0'..='9' => {
                digits.push(c);
                after_digit = true;
            }
            ' ' | '-' if after_digit => after_digit = false,
            ' ' | '-' => return Err(MOBILE_SEPARATORS),
            _ => return Err(MOBILE_CHARS),
        }
    }
    if !after_digit && !digits.is_empty() {
        return Err(MOBILE_SEPARATORS);
    }
    // `0086` and `86` are digits too, so they are told apart by length.
    if !explicit_country {
        if digits.len() == 15 && digits.starts_with("0086") {
            digits.drain(..4);
        } else if digits.len() == 13 && digits.starts_with("86") {
            digits.drain(..2);
        }
    }
    if digits.len() != 11 {
        return Err(MOBILE_LENGTH);
    }
    if !digits.starts_with('1') || !matches!(digits.as_bytes()[1], b'3'..=b'9') {
        return Err(MOBILE_PREFIX);
    }
    Ok(digits)
}

/// Area code: `01x` and `02x` are the 2-digit codes (Beijing, Shanghai and
/// the other large cities), every other code has 3 digits. Following that
/// plan is what lets `07551234567` be read without a separator.
const AREA: &str = "(?:[12][0-9]|[3-9][0-9]{2})";

static LANDLINE: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(
        r"(?x)^
        (?: (?:\+|00)86[\ -]?0?(?P<intl>{AREA}) # the trunk 0 is optional after +86
          | \((?P<paren>0{AREA})\)
          | (?P<area>0{AREA})
        )
        [\ -]?
        (?P<local>[2-9][0-9]{{6,7}})            # 0 and 1 never start a local number
        (?: (?: \ *(?:转|(?i:ext)\.?)\ * | - ) (?P<ext>[0-9]{{1,6}}) )?
        $"
    );
    Regex::new(&pattern).expect("the landline pattern is valid")
});

/// National service numbers (400 is caller-pays, 800 is free); written in
/// the 3-3-4 groups they are advertised in.
static SERVICE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([48]00)[ -]?([0-9]{3})[ -]?([0-9]{4})$")
        .expect("the service number pattern is valid")
});

/// A mainland China landline or 400/800 service number, as
/// `0AA(A)-NNNNNNN(N)` with `-EXT` when there is an extension, or
/// `400-NNN-NNNN`.
pub fn landline(input: &str) -> Result<String, &'static str> {
    let number = input.trim();
    if let Some(caps) = SERVICE.captures(number) {
        return Ok(format!("{}-{}-{}", &caps[1], &caps[2], &caps[3]));
    }
    let Some(caps) = LANDLINE.captures(number) else {
        return Err(if mobile_phone(number).is_ok() {
            LANDLINE_IS_MOBILE
        } else {
            LANDLINE_SHAPE
        });
    };
    let area = match (caps.name("intl"), caps.name("paren"), caps.name("area")) {
        (Some(intl), _, _) => format!("0{}", intl.as_str()),
        (_, Some(area), _) | (_, _, Some(area)) => area.as_str().to_owned(),
        (None, None, None) => return Err(LANDLINE_SHAPE),
    };
    let mut normalised = format!("{area}-{}", &caps["local"]);
    if let Some(ext) = caps.name("ext") {
        normalised.push('-');
        normalised.push_str(ext.as_str());
    }
    Ok(normalised)
}

/// Characters that would make a value look different from what it holds:
/// whitespace, controls, and the zero-width and bidi-override formats.
fn hidden(c: char) -> bool {
    let invisible = matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}'
    );
    invisible || c.is_whitespace() || c.is_control()
}

/// One label of a host name; letters of any script for internationalised
/// domains, which we keep in Unicode rather than Punycode.
fn host_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label
            .chars()
            .all(|c| c.is_alphabetic() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

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

    #[test]
    fn emails() {
        let long_local = format!("{}@a.cn", "x".repeat(65));
        let long_total = format!("x@{}.cn", vec!["y".repeat(63); 4].join("."));
        check_table(
            email,
            &[
                (" Zhang.San@Example.COM ", Ok("Zhang.San@example.com")),
                ("o'neil+tag@mail.co.uk", Ok("o'neil+tag@mail.co.uk")),
                ("张三@政务.中国", Ok("张三@政务.中国")),
                ("a@XN--fiqs8s.cn", Ok("a@xn--fiqs8s.cn")),
                ("", Err(EMAIL_AT)),
                ("a.cn", Err(EMAIL_AT)),
                ("a@b@c.cn", Err(EMAIL_AT)),
                ("@b.cn", Err(EMAIL_LOCAL_EMPTY)),
                (&long_local, Err(EMAIL_LOCAL_LONG)),
                ("a b@c.cn", Err(EMAIL_LOCAL_CHARS)),
                ("a\u{200B}b@c.cn", Err(EMAIL_LOCAL_CHARS)),
                ("<a>@c.cn", Err(EMAIL_LOCAL_CHARS)),
                (".a@c.cn", Err(EMAIL_LOCAL_DOTS)),
                ("a..b@c.cn", Err(EMAIL_LOCAL_DOTS)),
                ("a@localhost", Err(EMAIL_DOMAIN_DOT)),
                ("a@b..cn", Err(EMAIL_DOMAIN_LABEL)),
                ("a@-b.cn", Err(EMAIL_DOMAIN_LABEL)),
                ("a@b.cn.", Err(EMAIL_DOMAIN_LABEL)),
                ("a@b_c.cn", Err(EMAIL_DOMAIN_LABEL)),
                ("a@1.2.3.4", Err(EMAIL_DOMAIN_TOP)),
                (&long_total, Err(EMAIL_LONG)),
            ],
        );
    }

    #[test]
    fn urls() {
        let long = format!("https://a.cn/{}", "x".repeat(2040));
        check_table(
            url,
            &[
                (" HTTPS://example.com\t", Ok("https://example.com")),
                (
                    "hTTp://Example.com/P?q=1#top",
                    Ok("http://Example.com/P?q=1#top"),
                ),
                (
                    "https://例子.中国:8443/路径",
                    Ok("https://例子.中国:8443/路径"),
                ),
                ("http://[2001:db8::1]:80/", Ok("http://[2001:db8::1]:80/")),
                ("http://localhost:/x", Ok("http://localhost:/x")),
                ("", Err(URL_SCHEME)),
                ("example.com", Err(URL_SCHEME)),
                ("ftp://a.cn", Err(URL_SCHEME)),
                ("javascript://%0aalert(1)", Err(URL_SCHEME)),
                ("https://", Err(URL_HOST)),
                ("https:///path", Err(URL_HOST)),
                ("http://[]/", Err(URL_HOST)),
                ("https://exa mple.com", Err(URL_SPACE)),
                ("https://a.cn/\u{202E}gpj.exe", Err(URL_SPACE)),
                ("https://bank.example@evil.example/", Err(URL_USERINFO)),
                ("https://<b>/", Err(URL_HOST_CHARS)),
                ("http://[zz::1]/", Err(URL_HOST_CHARS)),
                ("https://a.cn:99999/", Err(URL_PORT)),
                ("https://a.cn:http/", Err(URL_PORT)),
                (&long, Err(URL_LONG)),
            ],
        );
    }

    #[test]
    fn mobile_phones() {
        check_table(
            mobile_phone,
            &[
                (" 138 1234 5678 ", Ok("13812345678")),
                ("138-1234-5678", Ok("13812345678")),
                ("+8613812345678", Ok("13812345678")),
                ("+86 138 1234 5678", Ok("13812345678")),
                ("(+86) 138-1234-5678", Ok("13812345678")),
                ("86 13812345678", Ok("13812345678")),
                ("0086 138 1234 5678", Ok("13812345678")),
                ("8613812345678", Ok("13812345678")),
                ("199 1234 5678", Ok("19912345678")),
                ("", Err(MOBILE_LENGTH)),
                ("1381234567", Err(MOBILE_LENGTH)),
                ("138123456789", Err(MOBILE_LENGTH)),
                ("+86 8613812345678", Err(MOBILE_LENGTH)),
                ("12812345678", Err(MOBILE_PREFIX)),
                ("23812345678", Err(MOBILE_PREFIX)),
                ("138  1234 5678", Err(MOBILE_SEPARATORS)),
                ("-13812345678", Err(MOBILE_SEPARATORS)),
                ("13812345678-", Err(MOBILE_SEPARATORS)),
                ("138.1234.5678", Err(MOBILE_CHARS)),
                ("１３８１２３４５６７８", Err(MOBILE_CHARS)),
            ],
        );
    }

    #[test]
    fn landlines() {
        check_table(
            landline,
            &[
                ("010 62345678", Ok("010-62345678")),
                ("01062345678", Ok("010-62345678")),
                ("(010)62345678", Ok("010-62345678")),
                ("+86 10 62345678", Ok("010-62345678")),
                ("+86 010 62345678", Ok("010-62345678")),
                ("07558765432", Ok("0755-8765432")),
                ("+86-755-8765432", Ok("0755-8765432")),
                ("0086 21 52345678", Ok("021-52345678")),
                ("0571-87654321-123", Ok("0571-87654321-123")),
                ("0571-87654321 ext. 123", Ok("0571-87654321-123")),
                ("0571-87654321转8", Ok("0571-87654321-8")),
                ("0571 87654321 EXT8", Ok("0571-87654321-8")),
                ("400 123 4567", Ok("400-123-4567")),
                ("4001234567", Ok("400-123-4567")),
                ("800-123-4567", Ok("800-123-4567")),
                ("", Err(LANDLINE_SHAPE)),
                ("62345678", Err(LANDLINE_SHAPE)), // no area code
                ("010-1234567", Err(LANDLINE_SHAPE)), // local numbers never start with 1
                ("010-623456", Err(LANDLINE_SHAPE)),
                ("010-623456789", Err(LANDLINE_SHAPE)),
                ("0755-8765432-1234567", Err(LANDLINE_SHAPE)),
                ("(010-62345678", Err(LANDLINE_SHAPE)),
                ("600-123-4567", Err(LANDLINE_SHAPE)),
                ("０１０-６２３４５６７８", Err(LANDLINE_SHAPE)),
                ("+86 138 1234 5678", Err(LANDLINE_IS_MOBILE)),
            ],
        );
    }

    proptest! {
        /// What a check returns it accepts again unchanged, so a stored
        /// value always survives being saved a second time.
        #[test]
        fn normalised_values_are_fixed_points(
            mail in "[a-zA-Z0-9.+_-]{1,8}@[a-zA-Z0-9İ-]{1,8}\\.[a-zA-Z]{2,4}",
            link in "(?i:https?)://[a-z0-9.-]{1,10}(:[0-9]{0,5})?(/\\PC{0,10})?",
            mobile in "(\\+86|0086|86)?[ -]?1[3-9][0-9]( ?[0-9]){8}",
            fixed in "(\\+86 ?|\\(?0)[1-9][0-9]{1,2}\\)?[ -]?[2-9][0-9]{6,7}((转| ext|-)[0-9]{1,3})?",
        ) {
            for (check, input) in [
                (email as fn(&str) -> _, mail),
                (url, link),
                (mobile_phone, mobile),
                (landline, fixed),
            ] {
                if let Ok(value) = check(&input) {
                    prop_assert_eq!(check(&value), Ok(value.clone()), "from {:?}", input);
                }
            }
        }
    }
}
