"""The same-run baseline of the register benchmarks: a minimal Starlette JSON endpoint.

Served on uvicorn, one worker, by ``_servers.uvicorn_baseline_argv``. It answers the paths
the benchmarks ask of apcert with a small JSON object and touches no database: what a
Python web stack costs a request before any application work.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def certificate(request: Request) -> JSONResponse:
    return JSONResponse({"number": request.path_params["number"], "status": "current"})


async def search(request: Request) -> JSONResponse:
    return JSONResponse({"q": request.query_params.get("q", ""), "results": []})


app = Starlette(
    routes=[
        Route("/api/public/certificates/{number}", certificate),
        Route("/api/public/search", search),
    ]
)
