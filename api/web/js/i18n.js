// Korean and English. The reader's choice is remembered (localStorage); the first visit follows
// the browser's language. Every text on the screens comes from here, by key.
const LANG = "courier.lang";

const en = {
  title: "Courier", brand: "Courier", skip: "Skip to content", language: "Language",
  "language.changed": "Language: English", loading: "Loading…", signout: "Sign out",
  "role.customer": "Customer", "role.shop": "Shop", "role.rider": "Rider", "role.operator": "Operator",
  "nav.shops": "Shops", "nav.myOrders": "My orders", "nav.board": "Orders", "nav.menu": "Menu & stock",
  "nav.deliveries": "My deliveries", "nav.stuck": "Stuck orders", "nav.audit": "Audit trail",
  "signin.title": "Sign in", "signin.token": "Your access token",
  "signin.help": "Paste the token you were given, or open a sign-in link (scripts/run prints one for each role).",
  "signin.submit": "Sign in", "signin.bad": "That is not a Courier token.",
  "signin.expired": "Your sign-in has expired or was refused. Sign in again.",
  "live.live": "● Live", "live.reconnecting": "Reconnecting…", "live.ended": "Final",
  "shops.title": "Order from a shop", "kind.flower_shop": "Flowers", "kind.pizzeria": "Pizza", "kind.restaurant": "Korean food",
  "menu.soldOut": "Sold out", "menu.inStock": "{n} left",
  "order.items": "What would you like?", "order.total": "Total", "order.delivery": "Delivery",
  "order.address": "Delivery address", "order.phone": "Mobile phone", "order.phoneHint": "With the country code, e.g. +821012345678: we text you each step.",
  "order.email": "Email", "order.payment": "Payment", "order.card": "Card number",
  "order.cardHint": "Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.",
  "order.pay": "Pay and order", "order.paying": "Paying…", "order.empty": "Choose at least one item.",
  "order.see": "See the order",
  "track.title": "Order {id}", "track.timeline": "What happened", "track.notifications": "Messages sent to you",
  "track.order": "Order", "track.now": "Your order is now: {status}", "track.rider": "Your rider: {name} ({phone})",
  "track.noRider": "No rider yet.", "track.reason": "Why", "track.cancel": "Cancel the order",
  "track.cancelReason": "Reason (optional)", "track.cancelling": "Cancelling: you will be refunded.",
  "track.noCancel": "The rider has your order: it can no longer be cancelled.",
  "log.none": "No messages yet.", "log.pending": "Waiting", "log.sending": "Sending", "log.sent": "Sent", "log.failed": "Failed",
  "orders.more": "Show more", "orders.none": "No orders yet.",
  "board.title": "Incoming orders", "board.new": "{n} new order(s)", "board.empty": "No orders yet.",
  "board.accept": "Accept", "board.reject": "Reject", "board.ready": "Ready for pickup",
  "board.rejectReason": "Reason for the customer", "board.done": "{action}: order {id}",
  "menu.title": "Menu and stock", "menu.item": "Item", "menu.price": "Price", "menu.stock": "In stock",
  "menu.change": "Change", "menu.amount": "Amount for {item}", "menu.set": "Set to", "menu.add": "Add",
  "menu.saved": "Stock of {item} saved.",
  "rider.title": "My deliveries", "rider.done": "Done", "rider.none": "Nothing to deliver right now.",
  "rider.pickupAt": "Pick up at", "rider.deliverTo": "Deliver to", "rider.waiting": "Waiting for the shop to finish.",
  "rider.pickup": "I have picked it up", "rider.deliver": "I have delivered it",
  "rider.pickupDone": "Order {id} picked up", "rider.deliverDone": "Order {id} delivered",
  "ops.title": "Stuck orders", "ops.refresh": "Refresh", "ops.none": "Nothing is stuck.",
  "ops.truncated": "More orders are stuck than shown.", "ops.kind": "Kind", "ops.step": "Step",
  "ops.attempts": "Attempts", "ops.lastError": "Last error", "ops.since": "Since",
  "ops.temporal": "Open its workflow in the Temporal UI", "ops.action": "Action", "ops.reason": "Reason (recorded in the audit trail)",
  "ops.do": "Do it", "ops.reasonNeeded": "Give a reason.", "ops.sent": "{action} sent for order {id}",
  "ops.sentAudit": "{action} sent for order {id} (audit entry {audit}).",
  "ops.retry": "Retry the step", "ops.restart": "Restart the workflow", "ops.cancel": "Cancel the order",
  "ops.terminate": "Terminate the workflow", "ops.compensate": "Compensate (refund, release)",
  "ops.kind.workflow_task_failing": "Workflow task failing", "ops.kind.activity_failing": "Step failing",
  "ops.kind.needs_attention": "Needs attention", "ops.kind.no_progress": "No progress",
  "audit.at": "When", "audit.operator": "Operator", "audit.action": "Action", "audit.order": "Order",
  "audit.reason": "Reason", "audit.outcome": "Outcome",
  "error.unknown": "Something went wrong.", "error.offline": "Courier cannot be reached; check your connection.",
  "error.payment_declined": "Your card was declined; nothing was charged.",
  "error.payment_failed": "The payment could not be made; nothing was charged.",
  "error.out_of_stock": "An item just sold out; nothing was charged.",
  "error.cannot_cancel": "This order can no longer be cancelled.",
  "error.invalid_transition": "That step is not possible for this order now.",
  "error.invalid_request": "Please check the form.", "error.forbidden": "You may not do that.",
  "error.order_not_found": "No such order.", "error.too_many_requests": "Too many orders at once; wait a moment.",
  "error.orders_unavailable": "Ordering is unavailable right now; nothing was charged. Try again.",
  "error.compensation_running": "The order is being unwound already.",
  "status.PAYMENT_PENDING": "Paying", "status.PAID": "Paid: waiting for the shop", "status.PAYMENT_DECLINED": "Card declined",
  "status.OUT_OF_STOCK": "Out of stock", "status.ACCEPTED": "Accepted by the shop", "status.RIDER_ASSIGNED": "Rider assigned",
  "status.READY": "Ready for pickup", "status.PICKED_UP": "On its way", "status.DELIVERED": "Delivered",
  "status.REJECTED": "Rejected by the shop", "status.CANCELLING": "Cancelling", "status.CANCELLED": "Cancelled",
  "status.PAYMENT_FAILED": "Payment failed", "status.NEEDS_ATTENTION": "Being looked at by our team",
  "status.COMPENSATING": "Being refunded",
};

const ko = {
  title: "Courier", brand: "Courier", skip: "본문으로 건너뛰기", language: "언어",
  "language.changed": "언어: 한국어", loading: "불러오는 중…", signout: "로그아웃",
  "role.customer": "고객", "role.shop": "매장", "role.rider": "라이더", "role.operator": "운영자",
  "nav.shops": "매장", "nav.myOrders": "내 주문", "nav.board": "주문", "nav.menu": "메뉴·재고",
  "nav.deliveries": "내 배달", "nav.stuck": "멈춘 주문", "nav.audit": "감사 기록",
  "signin.title": "로그인", "signin.token": "접속 토큰",
  "signin.help": "받은 토큰을 붙여 넣거나 로그인 링크를 여세요 (scripts/run이 역할마다 하나씩 출력합니다).",
  "signin.submit": "로그인", "signin.bad": "Courier 토큰이 아닙니다.",
  "signin.expired": "로그인이 만료되었거나 거부되었습니다. 다시 로그인하세요.",
  "live.live": "● 실시간", "live.reconnecting": "다시 연결하는 중…", "live.ended": "완료",
  "shops.title": "매장에서 주문하기", "kind.flower_shop": "꽃집", "kind.pizzeria": "피자", "kind.restaurant": "한식",
  "menu.soldOut": "품절", "menu.inStock": "{n}개 남음",
  "order.items": "무엇을 주문할까요?", "order.total": "합계", "order.delivery": "배달",
  "order.address": "배달 주소", "order.phone": "휴대전화", "order.phoneHint": "국가 번호와 함께 (예: +821012345678): 단계마다 문자로 알려 드립니다.",
  "order.email": "이메일", "order.payment": "결제", "order.card": "카드 번호",
  "order.cardHint": "테스트 카드: 4242 4242 4242 4242는 결제되고, 4000 0000 0000 0002는 거절됩니다.",
  "order.pay": "결제하고 주문하기", "order.paying": "결제 중…", "order.empty": "하나 이상 고르세요.",
  "order.see": "주문 보기",
  "track.title": "주문 {id}", "track.timeline": "진행 기록", "track.notifications": "보내 드린 알림",
  "track.order": "주문 내용", "track.now": "주문 상태: {status}", "track.rider": "라이더: {name} ({phone})",
  "track.noRider": "아직 라이더가 없습니다.", "track.reason": "사유", "track.cancel": "주문 취소",
  "track.cancelReason": "사유 (선택)", "track.cancelling": "취소하는 중: 환불해 드립니다.",
  "track.noCancel": "라이더가 주문을 가져갔습니다: 더는 취소할 수 없습니다.",
  "log.none": "아직 알림이 없습니다.", "log.pending": "대기", "log.sending": "보내는 중", "log.sent": "보냄", "log.failed": "실패",
  "orders.more": "더 보기", "orders.none": "아직 주문이 없습니다.",
  "board.title": "들어온 주문", "board.new": "새 주문 {n}건", "board.empty": "아직 주문이 없습니다.",
  "board.accept": "접수", "board.reject": "거절", "board.ready": "픽업 준비 완료",
  "board.rejectReason": "고객에게 보낼 사유", "board.done": "{action}: 주문 {id}",
  "menu.title": "메뉴와 재고", "menu.item": "품목", "menu.price": "가격", "menu.stock": "재고",
  "menu.change": "변경", "menu.amount": "{item} 수량", "menu.set": "으로 설정", "menu.add": "추가",
  "menu.saved": "{item} 재고를 저장했습니다.",
  "rider.title": "내 배달", "rider.done": "완료", "rider.none": "지금은 배달할 것이 없습니다.",
  "rider.pickupAt": "픽업", "rider.deliverTo": "배달지", "rider.waiting": "매장이 준비를 마치기를 기다립니다.",
  "rider.pickup": "픽업했어요", "rider.deliver": "배달했어요",
  "rider.pickupDone": "주문 {id} 픽업 완료", "rider.deliverDone": "주문 {id} 배달 완료",
  "ops.title": "멈춘 주문", "ops.refresh": "새로 고침", "ops.none": "멈춘 주문이 없습니다.",
  "ops.truncated": "보이는 것보다 더 많은 주문이 멈춰 있습니다.", "ops.kind": "종류", "ops.step": "단계",
  "ops.attempts": "시도", "ops.lastError": "마지막 오류", "ops.since": "시작",
  "ops.temporal": "Temporal UI에서 워크플로 열기", "ops.action": "조치", "ops.reason": "사유 (감사 기록에 남습니다)",
  "ops.do": "실행", "ops.reasonNeeded": "사유를 적으세요.", "ops.sent": "주문 {id}: {action} 보냄",
  "ops.sentAudit": "주문 {id}: {action} 보냄 (감사 기록 {audit}).",
  "ops.retry": "단계 다시 시도", "ops.restart": "워크플로 다시 시작", "ops.cancel": "주문 취소",
  "ops.terminate": "워크플로 종료", "ops.compensate": "보상 (환불, 해제)",
  "ops.kind.workflow_task_failing": "워크플로 태스크 실패", "ops.kind.activity_failing": "단계 실패",
  "ops.kind.needs_attention": "조치 필요", "ops.kind.no_progress": "진행 없음",
  "audit.at": "시각", "audit.operator": "운영자", "audit.action": "조치", "audit.order": "주문",
  "audit.reason": "사유", "audit.outcome": "결과",
  "error.unknown": "문제가 생겼습니다.", "error.offline": "Courier에 연결할 수 없습니다. 연결을 확인하세요.",
  "error.payment_declined": "카드가 거절되었습니다. 결제되지 않았습니다.",
  "error.payment_failed": "결제하지 못했습니다. 청구되지 않았습니다.",
  "error.out_of_stock": "방금 품절된 품목이 있습니다. 결제되지 않았습니다.",
  "error.cannot_cancel": "이 주문은 더는 취소할 수 없습니다.",
  "error.invalid_transition": "지금 이 주문에는 할 수 없는 단계입니다.",
  "error.invalid_request": "입력한 내용을 확인하세요.", "error.forbidden": "권한이 없습니다.",
  "error.order_not_found": "없는 주문입니다.", "error.too_many_requests": "주문이 너무 잦습니다. 잠시 후에 하세요.",
  "error.orders_unavailable": "지금은 주문할 수 없습니다. 결제되지 않았습니다. 다시 시도하세요.",
  "error.compensation_running": "이미 주문을 되돌리는 중입니다.",
  "status.PAYMENT_PENDING": "결제 중", "status.PAID": "결제 완료: 매장 확인 대기", "status.PAYMENT_DECLINED": "카드 거절",
  "status.OUT_OF_STOCK": "품절", "status.ACCEPTED": "매장 접수", "status.RIDER_ASSIGNED": "라이더 배정",
  "status.READY": "픽업 준비 완료", "status.PICKED_UP": "배달 중", "status.DELIVERED": "배달 완료",
  "status.REJECTED": "매장 거절", "status.CANCELLING": "취소 중", "status.CANCELLED": "취소됨",
  "status.PAYMENT_FAILED": "결제 실패", "status.NEEDS_ATTENTION": "담당자가 확인 중",
  "status.COMPENSATING": "환불 중",
};

const dictionaries = { en, ko };

export function lang() {
  const chosen = localStorage.getItem(LANG);
  if (chosen in dictionaries) return chosen;
  return (navigator.language || "ko").toLowerCase().startsWith("en") ? "en" : "ko";
}

export function setLang(value) {
  if (value in dictionaries) localStorage.setItem(LANG, value);
}

/** The text of `key` in the reader's language, with `{name}` filled from `vars`; `fallback`
 *  (the key itself by default) when neither language has it. */
export function t(key, vars = {}, fallback = key) {
  const text = dictionaries[lang()][key] ?? en[key];
  if (text === undefined) return fallback;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

export function statusName(status) {
  return t(`status.${status}`, {}, status);
}

/** Both dictionaries have the same keys (checked by the browser tests). */
export function missingKeys() {
  const keys = new Set([...Object.keys(en), ...Object.keys(ko)]);
  return [...keys].filter((k) => !(k in en) || !(k in ko));
}
