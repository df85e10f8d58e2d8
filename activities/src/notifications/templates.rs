//! Every message Courier sends, in one place: short, specific and human (which shop, what
//! happened, what comes next, the order's link), in Korean and English.

use courier_workflows::order::OrderStatus;

/// Who reads the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Customer,
    Shop,
}

impl Audience {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Shop => "shop",
        }
    }
}

/// What a message is about.
pub struct Facts<'a> {
    pub status: OrderStatus,
    pub order_id: &'a str,
    pub shop_name: &'a str,
    pub reason: Option<&'a str>,
    pub total_minor: Option<i64>,
    pub link: &'a str,
}

/// One status change, ready for each channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub sms: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Whether the shop hears of this status change: new orders, and orders taken away from it.
pub fn shop_is_told(status: OrderStatus, reason: Option<&str>) -> bool {
    match status {
        OrderStatus::Paid | OrderStatus::Cancelled => true,
        OrderStatus::Rejected => reason == Some("no_rider"),
        _ => false,
    }
}

fn won(minor: i64) -> String {
    let digits = minor.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("₩{grouped}")
}

/// The sentence and the next step, per language.
fn lines(facts: &Facts, korean: bool, audience: Audience) -> (String, String) {
    let shop = facts.shop_name;
    let why = facts.reason.unwrap_or(if korean {
        "사유 없음"
    } else {
        "no reason given"
    });
    let total = facts.total_minor.map(won).unwrap_or_default();
    if audience == Audience::Shop {
        return match (facts.status, korean) {
            (OrderStatus::Paid, true) => (
                format!("새 주문이 들어왔습니다 ({total}, 결제 완료)."),
                "주문 보드에서 수락하거나 거절해 주세요.".into(),
            ),
            (OrderStatus::Paid, false) => (
                format!("A new order is in ({total}, paid)."),
                "Accept or reject it on your order board.".into(),
            ),
            (_, true) => (
                format!("주문이 취소되었습니다 ({why})."),
                "준비를 멈춰 주세요. 고객에게는 환불되었습니다.".into(),
            ),
            (_, false) => (
                format!("This order is off ({why})."),
                "Please stop preparing it; the customer has been refunded.".into(),
            ),
        };
    }
    let (what, next): (String, String) = match (facts.status, korean) {
        (OrderStatus::PaymentPending, true) => (
            format!("{shop} 주문의 결제를 확인하고 있습니다."),
            "결제가 확인되면 바로 알려 드릴게요.".into(),
        ),
        (OrderStatus::PaymentPending, false) => (
            format!("We are confirming your payment for {shop}."),
            "We will tell you as soon as it goes through.".into(),
        ),
        (OrderStatus::Paid, true) => (
            format!("결제가 완료되어 {shop}에 주문이 전달되었습니다 ({total})."),
            "가게가 주문을 수락하면 알려 드릴게요.".into(),
        ),
        (OrderStatus::Paid, false) => (
            format!("Paid: {shop} has your order ({total})."),
            "We will tell you when they accept it.".into(),
        ),
        (OrderStatus::PaymentDeclined, true) => (
            format!("카드 결제가 거절되어 {shop}에 주문이 전달되지 않았습니다 ({why})."),
            "다른 카드로 다시 주문해 주세요.".into(),
        ),
        (OrderStatus::PaymentDeclined, false) => (
            format!("Your card was declined, so {shop} did not get the order ({why})."),
            "Try again with another card.".into(),
        ),
        (OrderStatus::OutOfStock, true) => (
            format!("{shop}: {why}. 결제되지 않았습니다."),
            "다른 메뉴로 다시 주문해 주세요.".into(),
        ),
        (OrderStatus::OutOfStock, false) => (
            format!("{shop} cannot take your order: {why}. Nothing was charged."),
            "Try another item from the menu.".into(),
        ),
        (OrderStatus::PaymentFailed, true) => (
            format!("{shop} 주문의 결제를 완료하지 못했습니다 ({why})."),
            "주문은 취소되었고 청구된 금액은 없습니다.".into(),
        ),
        (OrderStatus::PaymentFailed, false) => (
            format!("We could not take your payment for {shop} ({why})."),
            "The order is off and nothing is owed.".into(),
        ),
        (OrderStatus::Accepted, true) => (
            format!("{shop}에서 주문을 수락하고 준비를 시작했습니다."),
            "라이더가 배정되면 알려 드릴게요.".into(),
        ),
        (OrderStatus::Accepted, false) => (
            format!("{shop} accepted your order and is preparing it."),
            "We will tell you when a rider is on the way.".into(),
        ),
        (OrderStatus::RiderAssigned, true) => (
            format!("{shop} 주문에 라이더가 배정되었습니다."),
            "음식이 준비되면 픽업합니다.".into(),
        ),
        (OrderStatus::RiderAssigned, false) => (
            format!("A rider is assigned to your order from {shop}."),
            "They will pick it up as soon as it is ready.".into(),
        ),
        (OrderStatus::Ready, true) => (
            format!("{shop}에서 주문 준비를 마쳤습니다."),
            "라이더가 곧 픽업합니다.".into(),
        ),
        (OrderStatus::Ready, false) => (
            format!("{shop} has your order ready."),
            "The rider will pick it up shortly.".into(),
        ),
        (OrderStatus::PickedUp, true) => (
            format!("라이더가 {shop}에서 주문을 픽업해 출발했습니다."),
            "곧 도착합니다.".into(),
        ),
        (OrderStatus::PickedUp, false) => (
            format!("Your order left {shop} with the rider."),
            "It will be with you soon.".into(),
        ),
        (OrderStatus::Delivered, true) => (
            format!("{shop} 주문이 배달 완료되었습니다."),
            "맛있게 드세요!".into(),
        ),
        (OrderStatus::Delivered, false) => (
            format!("Your order from {shop} was delivered."),
            "Enjoy!".into(),
        ),
        (OrderStatus::Rejected, true) => (
            format!("{shop}에서 주문을 처리할 수 없습니다 ({why})."),
            "결제 금액은 전액 환불됩니다.".into(),
        ),
        (OrderStatus::Rejected, false) => (
            format!("{shop} could not take your order ({why})."),
            "Your payment is refunded in full.".into(),
        ),
        (OrderStatus::Cancelling, true) => (
            format!("{shop} 주문을 취소하고 있습니다 ({why})."),
            "환불이 끝나면 알려 드릴게요.".into(),
        ),
        (OrderStatus::Cancelling, false) => (
            format!("We are cancelling your order from {shop} ({why})."),
            "We will tell you once the refund is done.".into(),
        ),
        (OrderStatus::Cancelled, true) => (
            format!("{shop} 주문이 취소되었습니다 ({why})."),
            "결제된 금액은 전액 환불됩니다.".into(),
        ),
        (OrderStatus::Cancelled, false) => (
            format!("Your order from {shop} is cancelled ({why})."),
            "Anything you paid is refunded in full.".into(),
        ),
        (OrderStatus::NeedsAttention, true) => (
            format!("{shop} 주문 처리에 확인이 필요합니다."),
            "담당자가 확인 중이며 곧 다시 알려 드릴게요.".into(),
        ),
        (OrderStatus::NeedsAttention, false) => (
            format!("Your order from {shop} needs a hand from our team."),
            "We are on it and will update you soon.".into(),
        ),
        (OrderStatus::Compensating, true) => (
            format!("{shop} 주문을 진행할 수 없어 정리하고 있습니다 ({why})."),
            "결제된 금액은 전액 환불됩니다.".into(),
        ),
        (OrderStatus::Compensating, false) => (
            format!("Your order from {shop} cannot go ahead ({why}); we are undoing it."),
            "Anything you paid is refunded in full.".into(),
        ),
    };
    (what, next)
}

fn title(status: OrderStatus, korean: bool) -> &'static str {
    match (status, korean) {
        (OrderStatus::PaymentPending, true) => "결제 확인 중",
        (OrderStatus::Paid, true) => "결제 완료",
        (OrderStatus::PaymentDeclined, true) => "결제 거절",
        (OrderStatus::OutOfStock, true) => "품절",
        (OrderStatus::PaymentFailed, true) => "결제 실패",
        (OrderStatus::Accepted, true) => "주문 수락",
        (OrderStatus::RiderAssigned, true) => "라이더 배정",
        (OrderStatus::Ready, true) => "준비 완료",
        (OrderStatus::PickedUp, true) => "배달 출발",
        (OrderStatus::Delivered, true) => "배달 완료",
        (OrderStatus::Rejected, true) => "주문 거절",
        (OrderStatus::Cancelling, true) => "취소 중",
        (OrderStatus::Cancelled, true) => "주문 취소",
        (OrderStatus::NeedsAttention, true) => "확인 필요",
        (OrderStatus::Compensating, true) => "주문 정리 중",
        (OrderStatus::PaymentPending, false) => "Confirming payment",
        (OrderStatus::Paid, false) => "Paid",
        (OrderStatus::PaymentDeclined, false) => "Card declined",
        (OrderStatus::OutOfStock, false) => "Out of stock",
        (OrderStatus::PaymentFailed, false) => "Payment failed",
        (OrderStatus::Accepted, false) => "Accepted",
        (OrderStatus::RiderAssigned, false) => "Rider assigned",
        (OrderStatus::Ready, false) => "Ready",
        (OrderStatus::PickedUp, false) => "On its way",
        (OrderStatus::Delivered, false) => "Delivered",
        (OrderStatus::Rejected, false) => "Rejected",
        (OrderStatus::Cancelling, false) => "Cancelling",
        (OrderStatus::Cancelled, false) => "Cancelled",
        (OrderStatus::NeedsAttention, false) => "Needs attention",
        (OrderStatus::Compensating, false) => "Undoing",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Renders the message of one status change for one audience, in `language` (`ko` or `en`).
pub fn render(facts: &Facts, language: &str, audience: Audience) -> Rendered {
    let korean = language == "ko";
    let (what, next) = lines(facts, korean, audience);
    let heading = if audience == Audience::Shop {
        if korean {
            format!("[Courier] {} 주문 {}", facts.shop_name, facts.order_id)
        } else {
            format!("[Courier] {} order {}", facts.shop_name, facts.order_id)
        }
    } else if korean {
        format!(
            "[Courier] 주문 {}: {}",
            facts.order_id,
            title(facts.status, true)
        )
    } else {
        format!(
            "[Courier] Order {}: {}",
            facts.order_id,
            title(facts.status, false)
        )
    };
    let link_label = if korean {
        "주문 보기"
    } else {
        "Your order"
    };
    let subject = heading.clone();
    let sms = format!("[Courier] {what} {next} {}", facts.link);
    let text = format!("{what}\n{next}\n\n{link_label}: {}\n", facts.link);
    let html = format!(
        "<!doctype html><html lang=\"{lang}\"><body><p>{what}</p><p>{next}</p><p><a href=\"{link}\">{label}</a></p></body></html>",
        lang = if korean { "ko" } else { "en" },
        what = escape(&what),
        next = escape(&next),
        link = escape(facts.link),
        label = link_label,
    );
    Rendered {
        sms,
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: OrderStatus) -> Facts<'static> {
        Facts {
            status,
            order_id: "5f0c",
            shop_name: "Napoli Oven <Pizza>",
            reason: Some("the oven is broken"),
            total_minor: Some(40_300),
            link: "http://courier.test/orders/5f0c",
        }
    }

    #[test]
    fn every_status_has_a_message_in_both_languages_naming_shop_and_link() {
        for status in OrderStatus::ALL {
            for language in ["ko", "en"] {
                let r = render(&facts(status), language, Audience::Customer);
                assert!(
                    r.sms.contains("Napoli Oven"),
                    "{status} {language}: {}",
                    r.sms
                );
                assert!(r.sms.contains("http://courier.test/orders/5f0c"));
                assert!(r.subject.contains("5f0c"));
                assert!(r.text.contains("http://courier.test/orders/5f0c"));
            }
        }
    }

    #[test]
    fn html_escapes_what_customers_and_shops_wrote() {
        let r = render(&facts(OrderStatus::Rejected), "en", Audience::Customer);
        assert!(r.html.contains("Napoli Oven &lt;Pizza&gt;"), "{}", r.html);
        assert!(!r.html.contains("<Pizza>"));
    }

    #[test]
    fn amounts_are_in_won_with_thousands_separators() {
        assert_eq!(won(40_300), "₩40,300");
        assert_eq!(won(2_500), "₩2,500");
        assert_eq!(won(1_234_567), "₩1,234,567");
        let r = render(&facts(OrderStatus::Paid), "ko", Audience::Customer);
        assert!(r.sms.contains("₩40,300"), "{}", r.sms);
    }

    #[test]
    fn shops_hear_of_new_and_withdrawn_orders_only() {
        assert!(shop_is_told(OrderStatus::Paid, None));
        assert!(shop_is_told(
            OrderStatus::Cancelled,
            Some("changed my mind")
        ));
        assert!(shop_is_told(OrderStatus::Rejected, Some("no_rider")));
        assert!(!shop_is_told(
            OrderStatus::Rejected,
            Some("the oven is broken")
        ));
        assert!(!shop_is_told(OrderStatus::Delivered, None));
    }
}
