"""The sandbox's Auth0 stand-in, spoken to directly: what a client-credentials client meets."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from bp_helper.testing import PREDICTION_AUDIENCE, Sandbox

GOOD = {
    "grant_type": "client_credentials",
    "client_id": "bp-predict",
    "client_secret": "predict-secret",
    "audience": PREDICTION_AUDIENCE,
}


def post(sandbox: Sandbox, **kwargs: Any) -> requests.Response:
    return requests.post(
        sandbox.machine_token_url, verify=str(sandbox.ca_path), timeout=30, **kwargs
    )


def api(sandbox: Sandbox, url: str, token: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(url, headers=headers, verify=str(sandbox.ca_path), timeout=30)


@pytest.mark.parametrize("body", ["json", "form", "basic"])
def test_json_and_form_bodies_and_basic_each_get_a_24_hour_token(
    sandbox: Sandbox, body: str
) -> None:
    if body == "json":  # as the public examples send it
        answer = post(sandbox, json=GOOD)
    elif body == "form":
        answer = post(sandbox, data=GOOD)
    else:
        fields = {"grant_type": "client_credentials", "audience": PREDICTION_AUDIENCE}
        answer = post(sandbox, data=fields, auth=("bp-predict", "predict-secret"))
    assert answer.status_code == 200, answer.text
    token = answer.json()
    assert set(token) == {"access_token", "expires_in", "token_type"}  # no refresh token
    assert (token["expires_in"], token["token_type"]) == (86400, "Bearer")
    assert api(sandbox, sandbox.prediction_url + "x", token["access_token"]).status_code == 200
    (seen,) = sandbox.token_requests("client_credentials")
    assert seen.form["audience"] == [PREDICTION_AUDIENCE]


@pytest.mark.parametrize(
    ("change", "status", "answer"),
    [
        (
            {"client_secret": "wrong"},
            401,
            {"error": "access_denied", "error_description": "Unauthorized"},
        ),
        (
            {"client_id": "nobody"},
            401,
            {"error": "access_denied", "error_description": "Unauthorized"},
        ),
        (
            {"audience": "unknown.example.org"},
            403,
            {
                "error": "access_denied",
                "error_description": "Service not found: unknown.example.org",
            },
        ),
        ({"audience": None}, 403, {"error": "access_denied"}),
        ({"client_id": "bp-nogrant", "client_secret": "nogrant-secret"}, 403, {}),
        ({"grant_type": "password"}, 403, {"error": "unauthorized_client"}),
        ({"scope": "read"}, 400, {"error": "invalid_request"}),
    ],
    ids=[
        "bad secret",
        "unknown client",
        "unknown audience",
        "no audience",
        "no grant",
        "password",
        "extra field",
    ],
)
def test_refusals_are_auth0_shaped(
    sandbox: Sandbox, change: dict[str, str | None], status: int, answer: dict[str, str]
) -> None:
    fields = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    response = post(sandbox, json=fields)
    assert response.status_code == status, response.text
    assert answer.items() <= response.json().items()
    assert "access_token" not in response.json()


def test_a_client_authenticating_twice_is_refused(sandbox: Sandbox) -> None:
    response = post(sandbox, data=GOOD, auth=("bp-predict", "predict-secret"))
    assert response.status_code == 400
    assert "authenticated twice" in response.json()["error_description"]


def test_the_apis_take_only_their_own_tokens(sandbox: Sandbox) -> None:
    machine = post(sandbox, json=GOOD).json()["access_token"]
    alice = sandbox.users["alice"]
    user = requests.post(
        sandbox.token_url,
        data={
            "grant_type": "password",
            "username": "alice",
            "password": alice.password,
            "client_id": "bp-norefresh",
            "client_secret": "norefresh-secret",
        },
        auth=("bp-norefresh", "norefresh-secret"),
        verify=str(sandbox.ca_path),
        timeout=30,
    )
    person = user.json()["access_token"]
    assert api(sandbox, sandbox.prediction_url + "p", machine).status_code == 200
    assert api(sandbox, sandbox.prediction_url + "p", person).status_code == 401
    assert api(sandbox, sandbox.api_url + "p", machine).status_code == 401
    sandbox.expire_access_tokens()
    expired = api(sandbox, sandbox.prediction_url + "p", machine)
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]


def test_usage_shows_the_machine_clients(sandbox: Sandbox) -> None:
    text = sandbox.usage()
    assert "bp-predict" in text and sandbox.machine_token_url in text
    assert "export BIOPRODICT_GRANT=client_credentials" in text
