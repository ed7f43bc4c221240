# syntax=docker/dockerfile:1
# One image for every citywatch process: `docker run IMAGE ingest|worker|alerts|simulate`.
# docker-compose.yml builds it once per service (`build: .`); the layers are shared.

# ---- build stage: compilers only here (faust-streaming's Cython parts have no wheel on every arch) ----
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Only what the package build needs: keeps the layer cache valid when tests or docs change.
# The service lock: the versions the tests ran, each checked against its hash; no report or dashboard-build extras.
COPY requirements/service.lock ./requirements/
RUN pip install --require-hashes -r requirements/service.lock
COPY pyproject.toml README.md ./
COPY citywatch ./citywatch
COPY services ./services
COPY streams ./streams
COPY tools ./tools
RUN pip install --no-deps .

# ---- runtime stage ----
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    CITYWATCH_RULES_DIR=/opt/citywatch/rules \
    CITYWATCH_REGISTRY_FILE=/opt/citywatch/registry/wujiang-sample.yaml \
    CITYWATCH_WORKER_DATA_DIR=/var/lib/citywatch/worker \
    CITYWATCH_INGEST_HOST=0.0.0.0 \
    CITYWATCH_ALERTS_HOST=0.0.0.0 \
    CITYWATCH_WORKER_WEB_HOST=0.0.0.0 \
    CITYWATCH_SIMULATOR_METRICS_HOST=0.0.0.0

# Non-root user; the worker's data dir exists and is owned by it, so a fresh named volume mounted
# there inherits that ownership.
RUN groupadd --system --gid 10001 citywatch \
    && useradd --system --uid 10001 --gid citywatch --home-dir /opt/citywatch --no-create-home \
       --shell /usr/sbin/nologin citywatch \
    && mkdir -p /opt/citywatch /var/lib/citywatch/worker \
    && chown -R citywatch:citywatch /var/lib/citywatch

COPY --from=build /opt/venv /opt/venv
COPY rules /opt/citywatch/rules
COPY registry /opt/citywatch/registry

WORKDIR /opt/citywatch
USER citywatch

# ingest, worker (faust web), alerts, simulator metrics
EXPOSE 8000 6066 8010 8020

ENTRYPOINT ["citywatch"]
CMD ["--help"]
