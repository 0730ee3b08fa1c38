"""The shared HTTP layer against a real local server: retries, Retry-After, pagination edge cases."""

from __future__ import annotations

import pytest

from extractors.http import ApiClient, SourceError, redact
from tests.scripted_server import scripted_server


def _client(base: str, **kwargs) -> ApiClient:
    return ApiClient("pretix_test", base, secrets=("s3cret-token",), backoff_factor=0.01, **kwargs)


def _page(base: str, results: list, next_page: int | None, count: int | None = None) -> dict:
    """A DRF list page; without `count` (some lists have none) the walk is not reconciled."""
    page = {
        "next": f"{base}items/?page={next_page}" if next_page else None,
        "previous": None,
        "results": results,
    }
    return page if count is None else {"count": count, **page}


def test_429_with_retry_after_is_waited_out_then_succeeds() -> None:
    def answer(path: str, n: int):
        return (429, {"Retry-After": "1"}, {"detail": "slow down"}) if n == 1 else (200, {}, {"ok": True})

    with scripted_server(answer) as (base, seen):
        assert _client(base).get_json("thing/") == {"ok": True}
    assert len(seen) == 2


def test_server_errors_are_retried_up_to_the_limit_then_reported() -> None:
    with scripted_server(lambda path, n: (503, {}, {"detail": "down"})) as (base, seen):
        with pytest.raises(SourceError, match="pretix_test"):
            _client(base, max_retries=2).get_json("thing/")
    assert len(seen) == 3  # first try + 2 retries


def test_auth_failure_names_the_source_and_is_not_retried() -> None:
    with scripted_server(lambda path, n: (401, {}, {"detail": "Invalid token."})) as (base, seen):
        with pytest.raises(SourceError, match=r"pretix_test: authentication refused \(HTTP 401\)"):
            _client(base).get_json("thing/")
    assert len(seen) == 1


def test_pagination_follows_next_until_null() -> None:
    def answer(path: str, n: int):
        page = int(path.split("page=")[1]) if "page=" in path else 1
        return 200, {}, _page(base_url[0], [{"id": page}], page + 1 if page < 3 else None, count=3)

    base_url = [""]
    with scripted_server(answer) as (base, _):
        base_url[0] = base
        pages = list(_client(base).paginate("items/"))
    assert [p[0]["id"] for p in pages] == [1, 2, 3]


def test_pagination_stops_on_an_empty_page_even_with_a_next_link() -> None:
    def answer(path: str, n: int):
        return 200, {}, _page(base_url[0], [{"id": 1}] if n == 1 else [], n + 1)

    base_url = [""]
    with scripted_server(answer) as (base, seen):
        base_url[0] = base
        pages = list(_client(base).paginate("items/"))
    assert pages == [[{"id": 1}]]
    assert len(seen) == 2


def test_pagination_stops_on_a_repeated_page() -> None:
    def answer(path: str, n: int):
        return 200, {}, _page(base_url[0], [{"id": "same"}], n + 1)

    base_url = [""]
    with scripted_server(answer) as (base, seen):
        base_url[0] = base
        pages = list(_client(base, max_retries=2).paginate("items/"))
    assert pages == [[{"id": "same"}]]
    # A repeat may be a transient fault: the page is asked for again (max_retries times) before
    # the source is taken to really repeat itself.
    assert len(seen) == 2 + 2


def test_a_transient_repeat_does_not_cut_the_list_short() -> None:
    def answer(path: str, n: int):
        page = int(path.split("page=")[1]) if "page=" in path else 1
        if n == 2:  # the second request returns page 1 again, once
            return 200, {}, _page(base_url[0], [{"id": 1}], 2)
        return 200, {}, _page(base_url[0], [{"id": page}], page + 1 if page < 3 else None)

    base_url = [""]
    with scripted_server(answer) as (base, _):
        base_url[0] = base
        pages = list(_client(base).paginate("items/"))
    assert [p[0]["id"] for p in pages] == [1, 2, 3]


def test_pagination_stops_when_next_loops_back() -> None:
    def answer(path: str, n: int):
        return 200, {}, _page(base_url[0], [{"id": n}], 1)  # next always points at page 1

    base_url = [""]
    with scripted_server(answer) as (base, seen):
        base_url[0] = base
        pages = list(_client(base).paginate(f"{base}items/?page=1"))
    assert len(pages) == 1 and len(seen) == 1


def test_a_non_json_body_is_a_clear_error() -> None:
    with scripted_server(lambda path, n: (200, {"Content-Type": "text/html"}, b"<html>")) as (base, _):
        with pytest.raises(SourceError, match="not JSON"):
            _client(base).get_json("thing/")


def test_secrets_are_redacted_from_messages() -> None:
    text = "GET /x?token=abc123&page=2 Authorization: Token s3cret-token failed s3cret-token"
    cleaned = redact(text, ("s3cret-token",))
    assert "abc123" not in cleaned and "s3cret-token" not in cleaned
    assert "page=2" in cleaned
    assert "x" not in redact("a token x leaked", ("x",))  # a secret of any length is redacted


def test_connection_refused_is_reported_without_the_token() -> None:
    client = ApiClient(
        "pretix_test",
        "http://127.0.0.1:9/",
        headers={"Authorization": "Token s3cret-token"},
        secrets=("s3cret-token",),
        max_retries=1,
        backoff_factor=0.01,
        timeout=2,
    )
    with pytest.raises(SourceError) as error:
        client.get_json("thing/")
    assert "pretix_test" in str(error.value) and "s3cret-token" not in str(error.value)
