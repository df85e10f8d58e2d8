//! Domain values whose only constructor is `parse`: an invalid one cannot be built, so the API's
//! 422s come from here and everything downstream may trust what it holds.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was refused: the field it came from and a sentence for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidField {
    pub field: String,
    pub message: String,
}

impl InvalidField {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An order's identity: a UUID, chosen by the API when the order is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(uuid::Uuid);

impl OrderId {
    pub fn new(id: uuid::Uuid) -> Self {
        Self(id)
    }

    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        uuid::Uuid::parse_str(raw)
            .map(Self)
            .map_err(|_| InvalidField::new("order_id", "must be a UUID"))
    }

    pub fn uuid(&self) -> uuid::Uuid {
        self.0
    }

    /// The id of the order's workflow: operators paste it into the Temporal UI.
    pub fn workflow_id(&self) -> String {
        format!("order-{}", self.0)
    }

    /// The idempotency key of one external effect of this order (`charge`, `rider-fee`, ...).
    pub fn effect_key(&self, step: &str) -> String {
        format!("order-{}-{step}", self.0)
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Deserializing a domain value goes through its `parse`, so no invalid one can be built from a
/// payload either.
macro_rules! parsed_from {
    ($name:ident, String) => {
        impl TryFrom<String> for $name {
            type Error = InvalidField;

            fn try_from(raw: String) -> Result<Self, InvalidField> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
    };
    ($name:ident, $raw:ty) => {
        impl TryFrom<$raw> for $name {
            type Error = InvalidField;

            fn try_from(raw: $raw) -> Result<Self, InvalidField> {
                Self::parse(raw)
            }
        }
    };
}

/// A slug-like identifier (customers, shops, menu items, riders): 1 to 64 of `[A-Za-z0-9_-]`.
fn parse_slug(field: &str, raw: &str) -> Result<String, InvalidField> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(InvalidField::new(
            field,
            "must be 1 to 64 letters, digits, '-' or '_'",
        ))
    }
}

macro_rules! slug_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        parsed_from!($name, String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, InvalidField> {
                parse_slug($field, raw).map(Self)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_id!(
    /// The customer who placed an order; Courier does not own customer accounts.
    CustomerId,
    "customer_id"
);
slug_id!(
    /// A shop (`flower-garden`, `pizza-napoli`, ...).
    ShopId,
    "shop_id"
);
slug_id!(
    /// An item on a shop's menu.
    MenuItemId,
    "menu_item_id"
);

/// An amount of money in integer minor units of its currency (KRW has no minor unit: 1 = ₩1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }
}

/// The currencies Courier accepts. Only KRW for now: every demo shop is in Korea.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "KRW")]
    Krw,
}

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        match raw {
            "KRW" => Ok(Self::Krw),
            _ => Err(InvalidField::new("currency", "must be KRW")),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Krw => "KRW",
        }
    }
}

/// How many of one menu item: 1 to 99.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Quantity(u32);

parsed_from!(Quantity, i64);

impl From<Quantity> for u32 {
    fn from(q: Quantity) -> u32 {
        q.0
    }
}

impl Quantity {
    pub const MAX: u32 = 99;

    pub fn parse(raw: i64) -> Result<Self, InvalidField> {
        if (1..=i64::from(Self::MAX)).contains(&raw) {
            Ok(Self(raw as u32))
        } else {
            Err(InvalidField::new(
                "quantity",
                format!("must be between 1 and {}", Self::MAX),
            ))
        }
    }

    pub fn get(&self) -> u32 {
        self.0
    }
}

/// A phone number in E.164: `+`, then 8 to 15 digits, the first not 0.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

parsed_from!(PhoneNumber, String);

impl PhoneNumber {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let digits = raw.strip_prefix('+').unwrap_or("");
        let ok = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidField::new(
                "phone",
                "must be in E.164 form, e.g. +821012345678",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address: one `@`, a non-empty local part, a dotted domain, no spaces, at most 254 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

parsed_from!(EmailAddress, String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let invalid =
            || InvalidField::new("email", "must be an email address like name@example.com");
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.contains('@')
            && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the rider takes the order: free text, 5 to 200 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeliveryAddress(String);

parsed_from!(DeliveryAddress, String);

impl DeliveryAddress {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let trimmed = raw.trim();
        let len = trimmed.chars().count();
        if (5..=200).contains(&len) && !trimmed.chars().any(char::is_control) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(InvalidField::new(
                "delivery_address",
                "must be 5 to 200 characters",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A card number as the customer typed it: 12 to 19 digits passing the Luhn check.
/// Only the payment activity reads it; views show the last four digits.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardNumber(String);

parsed_from!(CardNumber, String);

impl CardNumber {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let digits: String = raw.chars().filter(|c| *c != ' ').collect();
        let invalid = || InvalidField::new("payment.card_number", "must be a valid card number");
        if !(12..=19).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        if !luhn_valid(&digits) {
            return Err(invalid());
        }
        Ok(Self(digits))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber(**** {})", self.last4())
    }
}

/// A card the payment provider tokenized (`pm_...`): what the saga charges, so the card number
/// itself never enters a workflow's history or Courier's tables.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PaymentMethodId(String);

parsed_from!(PaymentMethodId, String);

impl PaymentMethodId {
    pub fn parse(raw: &str) -> Result<Self, InvalidField> {
        let field = "payment.payment_method";
        let id = parse_slug(field, raw)?;
        if id.starts_with("pm_") {
            Ok(Self(id))
        } else {
            Err(InvalidField::new(
                field,
                "must be a payment method id (pm_...)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How an order pays: a payment method (every order placed since cards are tokenized), or, for
/// orders placed before that and still replaying, the card number itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentSource<'a> {
    Method(&'a PaymentMethodId),
    Card(&'a CardNumber),
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if !i.is_multiple_of(2) {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_cannot_build_invalid_values() {
        let shop: ShopId = serde_json::from_str("\"napoli-oven\"").unwrap();
        assert_eq!(serde_json::to_string(&shop).unwrap(), "\"napoli-oven\"");
        assert!(serde_json::from_str::<ShopId>("\"has spaces\"").is_err());
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert_eq!(serde_json::from_str::<Quantity>("3").unwrap().get(), 3);
        assert!(serde_json::from_str::<PhoneNumber>("\"010-1234\"").is_err());
        assert!(serde_json::from_str::<EmailAddress>("\"no-at-sign\"").is_err());
        assert!(serde_json::from_str::<DeliveryAddress>("\"x\"").is_err());
        assert!(serde_json::from_str::<CardNumber>("\"4242424242424241\"").is_err());
    }

    #[test]
    fn phone_numbers_must_be_e164() {
        assert!(PhoneNumber::parse("+821012345678").is_ok());
        for bad in [
            "01012345678",
            "+0101234567",
            "+82 10 1234",
            "+12",
            "+1234567890123456",
            "",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!(EmailAddress::parse("minji@example.kr").is_ok());
        for bad in [
            "minji",
            "@example.kr",
            "minji@",
            "minji@example",
            "min ji@example.kr",
            "a@b..kr",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn test_cards_pass_luhn_and_typos_do_not() {
        assert!(CardNumber::parse("4242424242424242").is_ok());
        assert!(CardNumber::parse("4000 0000 0000 0002").is_ok());
        assert!(CardNumber::parse("4242424242424241").is_err());
        assert!(CardNumber::parse("42424242").is_err());
        assert!(CardNumber::parse("4242-4242-4242-4242").is_err());
    }

    #[test]
    fn card_numbers_never_print_in_full() {
        let card = CardNumber::parse("4242424242424242").unwrap();
        assert_eq!(format!("{card:?}"), "CardNumber(**** 4242)");
    }

    #[test]
    fn quantities_are_between_one_and_ninety_nine() {
        assert!(Quantity::parse(1).is_ok());
        assert!(Quantity::parse(99).is_ok());
        assert!(Quantity::parse(0).is_err());
        assert!(Quantity::parse(100).is_err());
        assert!(Quantity::parse(-3).is_err());
    }

    #[test]
    fn slugs_refuse_spaces_slashes_and_empty_strings() {
        assert!(ShopId::parse("pizza-napoli").is_ok());
        assert!(ShopId::parse("").is_err());
        assert!(ShopId::parse("a/b").is_err());
        assert!(CustomerId::parse(&"x".repeat(65)).is_err());
    }
}
