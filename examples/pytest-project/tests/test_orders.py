"""The orders API's token checks, with real tokens from Kindling and minted bad ones."""

import pytest

BEARER_INVALID = 'Bearer error="invalid_token"'


def test_a_real_token_reads_and_writes(kindling, orders):
    token = kindling.token(audience=orders.audience)  # POST /oauth2/token, client credentials
    created = orders.post(token, {"item": "kindling"})
    assert created.status == 201
    assert created.body["by"] == kindling.client_id
    listed = orders.get(token)
    assert listed.status == 200 and created.body in listed.body["orders"]


def test_a_token_with_only_some_scopes_gets_only_those(kindling, orders):
    token = kindling.token(audience=orders.audience, scopes=["read:orders"])
    assert orders.get(token).status == 200
    refused = orders.post(token, {"item": "nope"})
    assert refused.status == 403
    assert refused.headers["WWW-Authenticate"] == 'Bearer error="insufficient_scope"'


def test_a_minted_token_like_the_real_one_is_accepted(kindling, orders):
    assert orders.get(kindling.mint(audience=orders.audience)).status == 200


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"expired": True}, id="expired"),
        pytest.param({"audience": "https://someone-else.example.com"}, id="wrong-audience"),
        pytest.param({"foreign_key": True}, id="foreign-key"),
        pytest.param({"typ": "at+jwt"}, id="wrong-typ"),
        pytest.param({"kid": "not-a-published-key"}, id="unknown-kid"),
        pytest.param({"issuer": "https://not-kindling.example.com"}, id="wrong-issuer"),
        pytest.param({"claims": {"exp": None}}, id="no-exp"),
    ],
)
def test_bad_tokens_are_refused(kindling, orders, bad):
    token = kindling.mint(**{"audience": orders.audience, **bad})
    refused = orders.get(token)
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"] == BEARER_INVALID


def test_a_token_without_the_scope_is_forbidden(kindling, orders):
    token = kindling.mint(audience=orders.audience, scopes=["write:orders"])
    assert orders.get(token).status == 403


def test_no_token_is_refused(orders):
    assert orders.get().status == 401


def test_a_management_api_token_is_not_for_this_api(kindling, orders):
    # kindling.token() is a Kinde Management API token by default: another audience.
    assert orders.get(kindling.token()).status == 401


@pytest.mark.kindling(tls=True)
def test_over_tls_with_the_local_ca(kindling, orders):
    assert kindling.base_url.startswith("https://") and kindling.ca_file
    assert orders.get(kindling.token(audience=orders.audience)).status == 200
    assert orders.get(kindling.mint(audience=orders.audience, expired=True)).status == 401


WORKER_ID = "orders-worker"  # pinned, with its secret, in kindling.yaml (the seed file)
WORKER_SECRET = "orders-worker-test-secret-0123456789"


def test_the_seeded_worker_may_only_read(kindling, orders):
    token = kindling.token(
        audience=orders.audience, client_id=WORKER_ID, client_secret=WORKER_SECRET
    )
    assert orders.get(token).status == 200
    assert orders.post(token, {"item": "no"}).status == 403
