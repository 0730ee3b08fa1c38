"""Run the partner-system simulator: in a daemon thread for tests, or as ``engage-simulator``."""

from __future__ import annotations

import argparse
import gc
import threading
from types import TracebackType
from typing import Any

from simulator import (
    kobo_api,
    kobo_data,
    limesurvey_api,
    limesurvey_data,
    pretix_api,
    pretix_data,
    shifting,
)
from simulator.faults import FaultPlan
from simulator.http_app import HttpError, Request, Router, make_server
from simulator.pretix_api import DEMO_PRETIX_TOKEN

__all__ = ["DEMO_CREDENTIALS", "DEMO_PRETIX_TOKEN", "SimulatorHandle", "build_app", "main", "start_simulator"]

# What the demo puts in the configured credential variables when they are unset, per system kind.
DEMO_CREDENTIALS: dict[str, dict[str, str]] = {
    "pretix": {"token": DEMO_PRETIX_TOKEN},
    "kobotoolbox": {"token": kobo_api.DEMO_KOBO_TOKEN},
    "limesurvey": {
        "username": limesurvey_api.DEMO_LIMESURVEY_USER,
        "password": limesurvey_api.DEMO_LIMESURVEY_PASSWORD,
    },
}


def build_app(
    *,
    seed: int = pretix_data.DEFAULT_SEED,
    bad_records: int = 1,
    token: str = DEMO_PRETIX_TOKEN,
    scale: int = 1,
) -> Router:
    """One router for every simulated system plus ``GET /_sim/health``.

    ``scale`` N serves N times the programme (pretix_data.generate); the KoboToolbox and LimeSurvey
    data are derived from it, so they grow with it and answer about its events and people."""
    router = Router()
    dataset = pretix_data.generate(seed=seed, bad_records=bad_records, scale=scale)
    store = pretix_api.PretixStore(dataset)
    router.include(pretix_api.build_router(store, token))
    limesurvey_store = limesurvey_api.LimeSurveyStore(
        limesurvey_data.generate(dataset),
        limesurvey_api.DEMO_LIMESURVEY_USER,
        limesurvey_api.DEMO_LIMESURVEY_PASSWORD,
    )
    router.include(limesurvey_api.build_router(limesurvey_store))
    kobo_store = kobo_api.KoboStore(kobo_data.generate(dataset))
    router.include(kobo_api.build_router(kobo_store))
    shifting.register(router, store, kobo_store, limesurvey_store)  # the shifting_pages fault
    router.stores = {"pretix": store, "kobotoolbox": kobo_store, "limesurvey": limesurvey_store}

    @router.route("GET", "/_sim/health")
    def health(request: Request) -> Any:
        if not request.is_loopback:
            raise HttpError(403, "The control API only answers loopback clients.")
        systems = ["pretix", "limesurvey", "kobotoolbox"]
        return {"status": "ok", "systems": systems, "seed": seed, "scale": scale}

    return router


class SimulatorHandle:
    """A running simulator; ``stop()`` (or leaving the ``with`` block) shuts it down."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.host: str = host
        self.port: int = port
        self.base_url: str = f"http://{host}:{port}"
        self.pretix_url: str = f"{self.base_url}{pretix_api.API_PREFIX}/"
        self.kobo_url: str = f"{self.base_url}{kobo_api.PREFIX}/"
        self.pretix_token: str = DEMO_PRETIX_TOKEN
        # the simulated systems' data, for tests that check what a run landed against it
        self.stores: dict[str, Any] = getattr(server.router, "stores", {})

    @property
    def faults(self) -> FaultPlan | None:
        """The fault plan in force, with its counts (PUT /_sim/faults replaces it at run time)."""
        return self._server.faults

    @faults.setter
    def faults(self, plan: FaultPlan | None) -> None:
        self._server.faults = plan

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def start_simulator(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    seed: int = pretix_data.DEFAULT_SEED,
    bad_records: int = 1,
    verbose: bool = False,
    faults: FaultPlan | dict[str, Any] | str | None = None,
    scale: int = 1,
) -> SimulatorHandle:
    """Generate the demo data and serve it from a daemon thread (port 0: any free port).

    ``faults``: a FaultPlan, a spec mapping, or a JSON/YAML spec (text or file path); see simulator.faults.
    ``scale``: serve that many times the programme (1: the demo as it is).
    """
    plan = FaultPlan.coerce(faults)
    app = build_app(seed=seed, bad_records=bad_records, scale=scale)
    server = make_server(host, port, app, verbose=verbose, faults=plan)
    thread = threading.Thread(target=server.serve_forever, name="engage-simulator", daemon=True)
    thread.start()
    return SimulatorHandle(server, thread)


def _scale(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"scale must be 1 or more (got {value})")
    return number


def main(argv: list[str] | None = None) -> None:
    """Console entry point ``engage-simulator``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="engage-simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=pretix_data.DEFAULT_SEED)
    parser.add_argument("--bad-records", type=int, default=1)
    parser.add_argument(
        "--scale", type=_scale, default=1, help="serve N times the programme (default 1: the demo as it is)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        help="inject faults: a JSON/YAML spec, inline or a file path (see docs/reliability.md)",
    )
    args = parser.parse_args(argv)
    app = build_app(seed=args.seed, bad_records=args.bad_records, scale=args.scale)
    # The dataset lives as long as the server: keep the collector from walking its millions of
    # objects (at --scale 100) each time a page's garbage triggers a full collection.
    gc.freeze()
    plan = FaultPlan.load(args.faults) if args.faults else None
    server = make_server(args.host, args.port, app, verbose=args.verbose, faults=plan)
    if plan is not None:
        rules = ", ".join(f"{r.pattern} at {r.rate:.0%}" for r in plan.rules)
        print(f"engage-simulator: injecting faults (seed {plan.seed}): {rules}", flush=True)
    host, port = server.server_address[:2]
    print(
        f"engage-simulator: pretix at http://{host}:{port}{pretix_api.API_PREFIX}/ "
        f"(organiser {pretix_data.ORGANIZER}, token {DEMO_PRETIX_TOKEN}, scale {args.scale})",
        flush=True,
    )
    print(
        f"engage-simulator: limesurvey at http://{host}:{port}{limesurvey_api.ENDPOINT} "
        f"(user {limesurvey_api.DEMO_LIMESURVEY_USER}, password {limesurvey_api.DEMO_LIMESURVEY_PASSWORD})",
        flush=True,
    )
    print(
        f"engage-simulator: kobotoolbox at http://{host}:{port}{kobo_api.PREFIX}/ "
        f"(token {kobo_api.DEMO_KOBO_TOKEN})",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("engage-simulator: stopping", flush=True)
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
