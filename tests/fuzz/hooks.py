"""Courier's bearer tokens for Schemathesis (loaded through SCHEMATHESIS_HOOKS by tests/tests/fuzz.rs).

Each case carries the token its real caller would have: the customer a placement names, the shop
or customer in the path, the rider a body names, an operator on /admin and for reading any order.
Tokens are HS256 JWTs signed with the test API's secret, with the standard library (the claims are
the API's: sub, role, exp). Schemathesis' own `ignored_auth` check still sends cases without them
and expects a 401.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import time

import schemathesis

SECRET = os.environ["COURIER_FUZZ_JWT_SECRET"].encode()
OPERATOR_TOKEN = os.environ["COURIER_FUZZ_OPERATOR_TOKEN"]
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(role: str, subject: str) -> str:
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": subject, "role": role, "exp": int(time.time()) + 3600}).encode())
    signature = hmac.new(SECRET, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


def named(value, default: str) -> str:
    """A generated id when it is one the API could have issued a token for, else `default`."""
    return value if isinstance(value, str) and ID.match(value) else default


@schemathesis.auth(refresh_interval=None, retry_on=[])
class CourierTokens:
    def get(self, case, ctx):
        path = case.operation.path
        params = case.path_parameters or {}
        body = case.body if isinstance(case.body, dict) else {}
        if path.startswith("/admin"):
            return OPERATOR_TOKEN
        if path == "/orders":
            return token("customer", named(body.get("customer_id"), "minji"))
        if path.startswith("/orders/"):
            # Operators read any order; a cancellation is a customer's.
            if case.method.upper() == "GET":
                return OPERATOR_TOKEN
            return token("customer", "minji")
        if path.startswith("/customers/"):
            return token("customer", named(params.get("customer_id"), "minji"))
        if path.startswith("/shops/"):
            return token("shop", named(params.get("shop_id"), "napoli-oven"))
        if path.startswith("/deliveries/"):
            return token("rider", named(body.get("rider_id"), "rider-jiwoo"))
        if path.startswith("/riders/"):
            return token("rider", named(params.get("rider_id"), "rider-jiwoo"))
        return None

    def set(self, case, data, ctx):
        if data:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"
