"""IAM > Service accounts: cloud credentials go in through the form and never come back out."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from skyatlas.console.pages.iam.common import (
    ACCOUNTS,
    AWS_SECRET_FIELDS,
    KNOWN_PROVIDERS,
    _after,
    _done,
    _pairs,
    _places,
    _table_state,
    _workspace_only,
)
from skyatlas.console.web import Pages, View, error_text
from skyatlas.errors import InvalidParameter, SkyatlasError

pages = Pages()


# -- service accounts --------------------------------------------------------------------------
def _project_labels(view: View) -> dict[str, str]:
    return {p["id"]: p["label"] for p in _places(view)["projects"]}


@pages.get("/iam/service-accounts")
def accounts_page(view: View) -> Response:
    refused = _workspace_only(view, "Service accounts", "service accounts")
    if refused:
        return refused
    state = _table_state(view, "name")
    answer = view.call("identity", "service-account", "list", {"query": state["query"]})
    context = {
        **state,
        "accounts": answer["results"],
        "total": answer["total_count"],
        "project_labels": _project_labels(view),
    }
    if view.wants_fragment("accounts-table"):
        return view.render("iam/_accounts_table.html", **context)
    return view.render("iam/service_accounts.html", **context, notice=_done(view))


def _secret_data(view: View, provider: str) -> dict[str, str] | None:
    """The credentials as typed: the AWS fields for provider aws, plus any key/value rows."""
    secret: dict[str, str] = {}
    if provider.lower() == "aws":
        for key in AWS_SECRET_FIELDS:
            value = str(view.form.get(key) or "").strip()
            if value:
                secret[key] = value
    secret.update(_pairs(view, "secret_key", "secret_value", "secret field", strip=False))
    return secret or None


def _account_form(
    view: View, values: dict[str, Any], error: str | None, status: int = 200
) -> Response:
    return view.render(
        "iam/account_form.html",
        status=status,
        projects=_places(view)["projects"],
        providers=KNOWN_PROVIDERS,
        values=values,
        data_rows=values.get("data_rows") or [("", "")],
        error=error,
    )


@pages.get("/iam/service-accounts/create")
def account_form(view: View) -> Response:
    refused = _workspace_only(view, "Service accounts", "service accounts")
    if refused:
        return refused
    return _account_form(view, {"project_id": view.arg("project_id")}, None)


@pages.post("/iam/service-accounts/create")
def account_create(view: View) -> Response:
    """Register; the secret goes to the verb and nowhere else (not even back into the form)."""
    refused = _workspace_only(view, "Service accounts", "service accounts")
    if refused:
        return refused
    values: dict[str, Any] = {
        k: view.arg(k) for k in ("name", "provider", "project_id", "account_id")
    }
    data_keys = [str(k) for k in view.form.getlist("data_key")]
    data_values = [str(v) for v in view.form.getlist("data_value")]
    values["data_rows"] = [
        (k, data_values[i] if i < len(data_values) else "") for i, k in enumerate(data_keys)
    ]
    try:
        data = _pairs(view, "data_key", "data_value", "data")
        if values["account_id"]:
            data["account_id"] = values["account_id"]
        body: dict[str, Any] = {
            "name": values["name"],
            "provider": values["provider"],
            "project_id": values["project_id"],
            "data": data,
        }
        secret = _secret_data(view, values["provider"])
        if secret is not None:
            body["secret_data"] = secret
        created = view.call("identity", "service-account", "create", body)
    except SkyatlasError as exc:
        if exc.status >= 500:
            raise
        return _account_form(view, values, error_text(exc), status=exc.status)
    return view.redirect(_after(ACCOUNTS, "account-created", created["name"]))


def _account(view: View) -> dict[str, Any]:
    return dict(
        view.call(
            "identity",
            "service-account",
            "get",
            {"service_account_id": view.request.path_params["service_account_id"]},
        )
    )


@pages.get("/iam/service-accounts/{service_account_id}/secret")
def account_secret_form(view: View) -> Response:
    return view.render("iam/account_secret.html", account=_account(view), error=None)


@pages.post("/iam/service-accounts/{service_account_id}/secret")
def account_secret_update(view: View) -> Response:
    account = _account(view)
    try:
        secret = _secret_data(view, account.get("provider") or "")
        if secret is None:
            raise InvalidParameter("fill in at least one secret field: nothing was replaced")
        view.call(
            "identity",
            "service-account",
            "update-secret-data",
            {"service_account_id": account["service_account_id"], "secret_data": secret},
        )
    except SkyatlasError as exc:
        if exc.status >= 500:
            raise
        return view.render(
            "iam/account_secret.html", status=exc.status, account=account, error=error_text(exc)
        )
    return view.redirect(_after(ACCOUNTS, "account-secret", account["name"]))


@pages.post("/iam/service-accounts/{service_account_id}/delete")
def account_delete(view: View) -> Response:
    account = _account(view)
    view.call(
        "identity",
        "service-account",
        "delete",
        {"service_account_id": account["service_account_id"]},
    )
    return view.redirect(_after(ACCOUNTS, "account-deleted", account["name"]))
