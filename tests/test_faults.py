"""Fault injection: each fault kind against the HTTP client, then the whole pipeline at a 30 % fault rate.

The unit tests serve a tiny paginated list through the simulator's own server with a FaultPlan and
read it with ApiClient: a transient fault (at most once per URL) is survived, a permanent one ends
in a clear SourceError after max_retries (a repeated page: pagination stops, as for a source that
really repeats). The suite runs the extractors of every simulated system against a simulator
failing 30 % of API requests (mixed kinds, seeded) and checks that the warehouse holds exactly what
the source holds, per stream. CI runs a reduced size (pretix check-ins, ~600 more requests, left
out; no dbt); ``ENGAGE_RELIABILITY_FULL=1`` (``make reliability``) runs every stream, smaller
pages, the whole pipeline with dbt.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from engage.config import PipelineConfig, load_config
from engage.extract import extract_stream
from engage.warehouse.loader import load_pending
from extractors.http import ApiClient, SourceError
from extractors.source_config import HttpSettings
from simulator.faults import CLASSIC_KINDS, TRANSIENT_KINDS, FaultPlan, FaultRule
from simulator.http_app import Request, Router, make_server, paginate
from tests.conftest import TOKEN_ENV, write_config

FULL = os.environ.get("ENGAGE_RELIABILITY_FULL") == "1"
ITEMS = [{"id": i, "name": f"item {i}"} for i in range(1, 26)]  # 3 pages of 10


# -- a tiny server: one paginated list, one JSON-RPC-like POST ----------------------------------
@pytest.fixture
def served() -> Iterator[Any]:
    """`served(plan)` starts a server answering /items/ and /rpc with `plan`; yields its base URL."""
    servers: list[Any] = []

    def start(plan: FaultPlan) -> str:
        router = Router()

        @router.route("GET", "/items/")
        def items(request: Request) -> Any:
            return paginate(request, ITEMS, default_size=10)

        @router.route("POST", "/rpc")
        def rpc(request: Request) -> Any:
            return {"result": request.json().get("method"), "error": None}

        @router.route("GET", "/_sim/health")
        def health(request: Request) -> Any:
            return {"status": "ok"}

        server = make_server("127.0.0.1", 0, router, faults=plan)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


# Tight bounds, so that each hostile answer is refused in well under a second.
LIMITS = HttpSettings(response_deadline_seconds=1.0, max_response_mib=1)


def _client(base: str, **kwargs: Any) -> ApiClient:
    settings = {"max_retries": 3, "backoff_factor": 0.01, "timeout": 0.5, **kwargs}
    return ApiClient("faulty_source", base, settings=LIMITS, **settings)


def _plan(kind: str, rate: float = 1.0, times: int | None = 1, **kwargs: Any) -> FaultPlan:
    settings = {"retry_after": 0, "slow_seconds": 1.0, "trickle_seconds": 0.05, "bomb_mib": 8, **kwargs}
    return FaultPlan([FaultRule.of("^/(items|rpc)", rate, [kind], times=times)], seed=1, **settings)


# shifting_pages changes a system's data (tests/test_shifting_pages.py): this server has none.
SURVIVABLE = [k for k in TRANSIENT_KINDS if k != "shifting_pages"]
LIST_ONLY = ("repeat_page", "foreign_next", "shifting_pages")


@pytest.mark.parametrize("kind", SURVIVABLE)
def test_the_client_survives_each_transient_fault(served, kind: str) -> None:
    plan = _plan(kind)
    client = _client(served(plan))
    pages = list(client.paginate("items/"))
    assert [r["id"] for page in pages for r in page] == [item["id"] for item in ITEMS]
    # repeat_page never hits a first page; every other kind hits each of the three pages once
    faults = 2 if kind == "repeat_page" else 3
    assert plan.injected[kind] == faults
    assert plan.requests == 3 + faults and client.retries_made == faults


@pytest.mark.parametrize("kind", [k for k in SURVIVABLE if k not in LIST_ONLY])
def test_a_json_rpc_post_survives_each_transient_fault(served, kind: str) -> None:
    plan = _plan(kind)
    client = _client(served(plan))
    assert client.post_json("rpc", {"method": "list_surveys"}) == {"result": "list_surveys", "error": None}
    assert plan.injected[kind] == 1


@pytest.mark.parametrize("kind", [k for k in CLASSIC_KINDS if k != "repeat_page"])
def test_a_permanent_fault_ends_in_a_clear_error_after_max_retries(served, kind: str) -> None:
    plan = _plan(kind, times=None)
    client = _client(served(plan), max_retries=2)
    with pytest.raises(SourceError, match=r"^faulty_source: ") as raised:
        client.get_json("items/")
    expected = {
        "429": "HTTP 429",
        "500": "HTTP 500",
        "503": "HTTP 503",
        "slow": "failed",  # a read timeout, retried, then reported
        "reset": "failed",
        "truncated": r"not JSON: the body is not JSON \(after 3 attempts\)",
        "malformed": r"not JSON: the body is not JSON \(after 3 attempts\)",
    }[kind]
    assert raised.match(expected)
    # urllib3's retries (429/5xx/reset/slow) or ours (bodies): 1 try + max_retries, no more
    assert plan.requests == 3


def test_a_page_that_keeps_repeating_fails_the_walk_short_of_its_count(served) -> None:
    plan = _plan("repeat_page", times=None)
    client = _client(served(plan), max_retries=2)
    pages = []
    with pytest.raises(SourceError, match=r"received 10 of the 25 records .*/items/ counts; stopping"):
        for page in client.paginate("items/"):
            pages.append(page)
    assert pages == [ITEMS[:10]]  # page 2 always repeats page 1: asked 1 + 2 times, then the count
    assert plan.requests == 5 and plan.injected["repeat_page"] == 3  # ... is asked again: still 25


def test_429_sends_the_configured_retry_after_and_the_client_waits_it_out(served) -> None:
    plan = _plan("429", retry_after=1)
    client = _client(served(plan))
    assert client.get_json("items/")["count"] == len(ITEMS)
    assert plan.injected["429"] == 1 and client.retries_made == 1


def test_control_routes_and_unmatched_paths_are_never_faulted(served) -> None:
    plan = FaultPlan.everywhere(1.0, ["500"], seed=3)
    client = _client(served(plan), max_retries=0)
    assert client.get_json("_sim/health") == {"status": "ok"}
    with pytest.raises(SourceError, match="HTTP 500"):
        client.get_json("items/")
    assert plan.report() == {"requests": 1, "faults": 1, "fault_rate": 1.0, "by_kind": {"500": 1}}


def test_a_plan_is_deterministic_for_its_seed() -> None:
    def decisions(seed: int) -> list[bool]:
        class Handler:  # what before() touches for an error answer
            command = "GET"

            def __init__(self) -> None:
                self.sent: list[int] = []

            def send_response(self, status: int) -> None:
                self.sent.append(status)

            def send_header(self, *args: str) -> None: ...
            def end_headers(self) -> None: ...

            class wfile:
                @staticmethod
                def write(data: bytes) -> None: ...

        plan = FaultPlan.everywhere(0.3, ["500", "503"], seed=seed)
        out = []
        for i in range(200):
            handler = Handler()
            request = Request("GET", f"/x/{i % 7}/", {"page": [str(i % 3)]}, {}, b"", "127.0.0.1")
            out.append(plan.before(handler, request))
        return out

    first, again, other = decisions(11), decisions(11), decisions(12)
    assert first == again and first != other
    assert 40 <= sum(first) <= 80  # ~30 % of 200


def test_a_spec_loads_from_inline_json_or_a_yaml_file(tmp_path: Path) -> None:
    inline = FaultPlan.load('{"seed": 5, "rules": [{"pattern": "^/kobo/", "rate": 0.5, "kinds": ["500"]}]}')
    assert inline.seed == 5 and inline.rules[0].kinds == (("500", 1.0),)
    spec = tmp_path / "faults.yml"
    spec.write_text(
        "seed: 2\nretry_after: 0\nrules:\n  - pattern: '^/pretix/'\n    rate: 0.3\n"
        "    kinds: {reset: 2, truncated: 1}\n    methods: [get]\n    times: 1\n"
    )
    plan = FaultPlan.load(str(spec))
    assert (plan.seed, plan.retry_after) == (2, 0)
    assert plan.rules[0] == FaultRule(
        "^/pretix/", 0.3, (("reset", 2.0), ("truncated", 1.0)), frozenset({"GET"}), 1
    )
    with pytest.raises(ValueError, match="unknown kinds"):
        FaultPlan.from_spec({"rules": [{"pattern": ".", "rate": 0.1, "kinds": ["teapot"]}]})
    with pytest.raises(ValueError, match="rate"):
        FaultPlan.from_spec({"rules": [{"pattern": ".", "rate": 30}]})


# -- the whole pipeline through a 30 % fault rate ---------------------------------------------
FAULT_RATE = 0.3
API_ROUTES = r"^/(pretix/api|kobo/api|limesurvey/)"
PRETIX_ORDERS = r"^/pretix/api/v1/organizers/[^/]+/orders/$"
KOBO_TOKEN_ENV, LS_USER_ENV, LS_PASSWORD_ENV = (
    "ENGAGE_TEST_FAULTS_KOBO_TOKEN",
    "ENGAGE_TEST_FAULTS_LS_USER",
    "ENGAGE_TEST_FAULTS_LS_PASSWORD",
)
PRETIX_STREAMS = ["events", "orders", "checkins"] if FULL else ["events", "orders"]
# Generous time-outs for real answers, a slow fault well past them; 429s ask for 1 s.
HTTP = {
    "timeout_seconds": 2.0,
    "max_retries": 5,
    "backoff_factor": 0.01,
    "response_deadline_seconds": 3.0,
    "max_response_mib": 16,
}
SLOW_SECONDS = 3.0


def _source_counts() -> dict[tuple[str, str], int]:
    """What the simulator serves, per stream, computed from its own generators and store."""
    from simulator import kobo_data, limesurvey_data, pretix_data
    from simulator.pretix_api import PretixStore, _list_positions

    dataset = pretix_data.generate()
    store = PretixStore(dataset)
    kobo = kobo_data.generate(dataset)
    surveys = limesurvey_data.generate(dataset).surveys.values()
    counts = {
        ("pretix", "events"): len(dataset.events),
        ("pretix", "orders"): len({o.code for o in dataset.orders if o.code is not None}),
        ("pretix", "checkins"): sum(  # one record per list and position checked in on that list
            1
            for slug in store.events_by_slug
            for checkin_list in store.checkin_lists[slug]
            for _, p in _list_positions(store, slug, checkin_list, False)
            if any(c.list_id == checkin_list["id"] for c in p.checkins)
        ),
        ("kobo", "assets"): len(kobo.surveys),
        ("kobo", "submissions"): sum(len(a.submissions) for a in kobo.surveys if a.has_deployment),
        ("limesurvey", "surveys"): len(surveys),
        ("limesurvey", "responses"): sum(len(s.responses) for s in surveys if s.active == "Y"),
    }
    return {key: n for key, n in counts.items() if key[0] != "pretix" or key[1] in PRETIX_STREAMS}


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from simulator.kobo_api import DEMO_KOBO_TOKEN
    from simulator.limesurvey_api import DEMO_LIMESURVEY_PASSWORD, DEMO_LIMESURVEY_USER
    from simulator.server import DEMO_PRETIX_TOKEN, start_simulator

    os.environ[TOKEN_ENV], os.environ[KOBO_TOKEN_ENV] = DEMO_PRETIX_TOKEN, DEMO_KOBO_TOKEN
    os.environ[LS_USER_ENV], os.environ[LS_PASSWORD_ENV] = DEMO_LIMESURVEY_USER, DEMO_LIMESURVEY_PASSWORD
    # Orders also change under the run (shifting_pages, weighted so it happens at CI size too):
    # modified, so their keys stay those of the source. Deletions and additions elsewhere would
    # make "warehouse = source" untrue by design; tests/test_shifting_pages.py covers them.
    shifting = {kind: 1.0 for kind in TRANSIENT_KINDS} | {"shifting_pages": 4.0}
    plan = FaultPlan(
        [
            FaultRule.of(PRETIX_ORDERS, FAULT_RATE, shifting),
            FaultRule.of(API_ROUTES, FAULT_RATE, [k for k in TRANSIENT_KINDS if k != "shifting_pages"]),
        ],
        seed=2026,
        retry_after=1,
        slow_seconds=SLOW_SECONDS,
        trickle_seconds=0.5,  # per byte: the body would take hours; the client's deadline is 3 s
        bomb_mib=64,  # past the client's 16 MiB
    )
    folder = tmp_path_factory.mktemp("faults")
    page_size = 100 if FULL else 400
    retries: list[int] = []  # each client's retries_made, read when the extraction closes it
    original_close = ApiClient.close

    def close(client: ApiClient) -> None:
        retries.append(client.retries_made)
        original_close(client)

    with start_simulator(port=0, faults=plan) as sim, pytest.MonkeyPatch.context() as patch:
        patch.setattr(ApiClient, "close", close)
        sources = {
            "pretix": {
                "kind": "pretix",
                "base_url": sim.pretix_url,
                "organizer": "ecccn",
                "credentials": {"token_env": TOKEN_ENV},
                "streams": PRETIX_STREAMS,
                "http": {**HTTP, "page_size": page_size},
            },
            "kobo": {
                "kind": "kobotoolbox",
                "base_url": sim.kobo_url,
                "credentials": {"token_env": KOBO_TOKEN_ENV},
                "streams": ["assets", "submissions"],
                "http": {**HTTP, "page_size": page_size // 2},
            },
            "limesurvey": {
                "kind": "limesurvey",
                "base_url": sim.base_url + "/limesurvey/index.php/admin/remotecontrol",
                "credentials": {"username_env": LS_USER_ENV, "password_env": LS_PASSWORD_ENV},
                "streams": ["surveys", "responses"],
                "http": {**HTTP, "page_size": 50},
            },
        }
        config: PipelineConfig = load_config(write_config(folder, sim.pretix_url, sources=sources))
        results = {}
        if FULL:
            import engage.pipeline as pipeline_module

            seen: list[Any] = []
            original = pipeline_module.extract_stream

            def recording(*args: Any, **kwargs: Any) -> Any:
                seen.append(original(*args, **kwargs))
                return seen[-1]

            patch.setattr(pipeline_module, "extract_stream", recording)  # to read each ExtractResult
            summary = pipeline_module.run_pipeline(config)
            results = {(r.source_instance, r.stream): r for r in seen}
            dbt_failures = [n.name for n in summary.dbt_nodes if n.status not in ("success", "pass")]
        else:
            for source, settings in sources.items():
                for stream in settings["streams"]:
                    results[(source, stream)] = extract_stream(config, source, stream)
            load_pending(config)
            dbt_failures = []
        report = plan.report()
    report["client_calls"] = sum(r.requests for r in results.values())  # JSON retries and re-asks included
    report["client_retries"] = sum(retries)
    report["records"] = {f"{source}/{stream}": r.records for (source, stream), r in results.items()}
    (folder / "fault_report.json").write_text(json.dumps(report, indent=2))
    print(f"\nfault suite ({'full' if FULL else 'CI'} size): {json.dumps(report)}")
    stores = sim.stores
    yield {
        "config": config,
        "results": results,
        "report": report,
        "dbt_failures": dbt_failures,
        "stores": stores,
    }


def _warehouse_counts(config: PipelineConfig, system: str, stream: str) -> tuple[int, int, int]:
    """Rows, distinct keys and distinct versions (key and cursor value) of a raw table."""
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        return con.execute(
            "select count(*), count(distinct record_key), "
            f"count(distinct (record_key, coalesce(cursor_value, ''))) from raw.\"{system}__{stream}\""
        ).fetchone()


SYSTEMS = {"pretix": "pretix", "kobo": "kobotoolbox", "limesurvey": "limesurvey"}


@pytest.mark.integration
def test_the_warehouse_holds_every_source_record_once_per_stream_despite_30_percent_faults(
    faulty_run,
) -> None:
    config, results = faulty_run["config"], faulty_run["results"]
    expected = _source_counts()
    actual = {}
    for (source, stream), _ in expected.items():
        rows, keys, versions = _warehouse_counts(config, SYSTEMS[source], stream)
        assert rows == versions, f"{source}/{stream}: {rows} rows for {versions} versions (landed twice?)"
        if (source, stream) != ("pretix", "orders"):  # orders modified mid-run land in two versions
            assert rows == keys, f"{source}/{stream}: {rows} rows for {keys} keys"
        actual[(source, stream)] = keys
    assert actual == expected
    # every order's latest version (modified during the run or not) is in the warehouse
    with duckdb.connect(str(config.warehouse_path), read_only=True) as con:
        landed = set(con.execute("select record_key, cursor_value from raw.pretix__orders").fetchall())
    latest = {(o.code, o.last_modified) for o in faulty_run["stores"]["pretix"].orders if o.code}
    assert latest - landed == set()
    # what was extracted is what the source holds (pretix's keyless order is quarantined, not lost;
    # an order modified after it was read is extracted again)
    extracted = {key: r.records for key, r in results.items()}
    modified = faulty_run["report"]["by_kind"].get("shifting_pages", 0)
    assert expected[("pretix", "orders")] + 1 <= extracted[("pretix", "orders")]
    assert extracted[("pretix", "orders")] <= expected[("pretix", "orders")] + 1 + modified
    assert {k: n for k, n in extracted.items() if k != ("pretix", "orders")} == {
        k: n for k, n in expected.items() if k != ("pretix", "orders")
    }
    assert faulty_run["dbt_failures"] == []


@pytest.mark.integration
def test_the_run_met_about_30_percent_faults_of_every_kind(faulty_run) -> None:
    report = faulty_run["report"]
    assert report["requests"] > 100
    assert 0.2 <= report["fault_rate"] <= 0.4, report
    if FULL:  # ~1,200 requests meet every kind; the CI size's ~130 meet most of the 16
        assert set(report["by_kind"]) == set(TRANSIENT_KINDS), report
    else:
        assert len(report["by_kind"]) >= 12 and "shifting_pages" in report["by_kind"], report


@pytest.mark.integration
def test_the_run_under_faults_leaves_no_email_name_or_secret(faulty_run) -> None:
    """The privacy scan belongs to the reliability suite: retries and re-reads must not leak."""
    from engage.privacy.scan import scan
    from simulator.pretix_data import generate
    from simulator.server import DEMO_CREDENTIALS

    names = {p.full_name for o in generate().orders for p in [o.person, *(x.person for x in o.positions)]}
    secrets = {v for creds in DEMO_CREDENTIALS.values() for v in creds.values()}
    assert scan(faulty_run["config"], names=names, secrets=secrets) == []
