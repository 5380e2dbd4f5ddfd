"""GET /metrics: the app's metrics in Prometheus's text format, for the operator's
Prometheus (docs/operations.md), from loopback or with METRICS_TOKEN as a bearer token.

A refusal is a bare 401: no body, nothing about the app. The metrics name no patient (every
label is a route template or a fixed word: observability/metrics.py), but how busy a clinic
is, and when, is nobody else's business.
"""

from fastapi import APIRouter, Request, Response

from configuration.settings import Settings
from observability.metrics import CONTENT_TYPE, Metrics
from web.access import bearer_of, from_loopback, metrics_allowed

PATH = "/metrics"


def metrics_router(settings: Settings) -> APIRouter:
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    router = APIRouter()

    @router.get(PATH, include_in_schema=False)
    async def metrics(request: Request) -> Response:
        authorization = request.headers.get("authorization")
        bearer = bearer_of(authorization) if authorization is not None else None
        if authorization is not None and bearer is None:
            bearer = ""  # a credential that is no bearer token is a wrong one
        if not metrics_allowed(token, bearer, from_loopback(request)):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        registry: Metrics = request.app.state.metrics
        return Response(registry.exposition(), media_type=CONTENT_TYPE,
                        headers={"Cache-Control": "no-store"})

    return router
