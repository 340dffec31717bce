# syntax=docker/dockerfile:1
# Headwater as a container: the wheel from `make dist`, served by `headwater serve`.
#
#   make dist && docker build -t headwater .
#   docker run -p 8000:8000 --env-file prod.env headwater
#
# Production is the default profile: `headwater serve` refuses to start until the
# configuration is safe (HEADWATER_SECRET_KEY, PostgreSQL with several nodes, ...);
# `docker run ... headwater headwater config check` says what is missing.
# Apps are not in the wheel: build an image FROM this one that copies them and sets
# HEADWATER_APPS (the working directory is on the import path, as in a checkout).

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HEADWATER_ENV=production \
    HEADWATER_DATA_DIR=/var/lib/headwater

# An unprivileged user owns the data directory (the SQLite file, a generated secret).
RUN useradd --system --uid 10001 --home-dir /var/lib/headwater --create-home headwater

# The wheel only, never the source tree; the postgres extra for shared deployments.
COPY dist/headwater-*.whl /tmp/wheels/
RUN set -eux; \
    wheel="$(ls /tmp/wheels/headwater-*.whl)"; \
    pip install "${wheel}[postgres]"; \
    rm -rf /tmp/wheels

USER headwater
WORKDIR /var/lib/headwater
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]

CMD ["headwater", "serve", "--host", "0.0.0.0", "--port", "8000"]
