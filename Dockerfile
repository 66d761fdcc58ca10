# tiffin: one image, two roles — `tiffin api` (default) and `tiffin runner NAME`.
#
#   docker build -t tiffin:local .
#   docker build --build-arg BASE_IMAGE=tiffin-base:local -t tiffin:local .   # no registry:
#                                                 # run scripts/offline-images first (docs/docker.md)
#   docker build --build-arg EXTRAS=frameworks,models,tracing,torch,transformers -t tiffin:torch .   # + PyTorch, Transformers (run scripts/lock with those extras first)
#
# All stages start FROM the same BASE_IMAGE, so the python3 the virtualenv points at
# (/usr/local/bin/python3 in the official image, /usr/bin/python3 in tiffin-base) exists at the
# same path in the final stage. Plain Dockerfile syntax: works with the legacy builder
# (docker-compose 1.29, Engine 20.10) and with BuildKit.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- deps: a virtualenv with exactly what locks/VARIANT.txt pins, hash-checked: tiffin's
# dependencies plus the extras of EXTRAS (comma-separated; default: the web frameworks users
# mount, FastAPI, Flask, Quart). The lock is named after the extras, sorted and joined by "+"
# (EXTRAS=xgboost,frameworks -> locks/frameworks+xgboost.txt, made by `scripts/lock
# frameworks,xgboost`). Rebuilt only when a lock or the wheelhouse changes. build/wheels is
# optional: scripts/offline-images fills it with the locked wheels when containers cannot reach
# PyPI, and pip then installs from it alone (--no-index; from PyPI as well, with a warning, if it
# lacks one: a stale wheelhouse). The locks and the wheels land together in /tmp/build (locks/
# always exists, so the COPY has a source when build/wheels does not). The packages' own test
# suites (pandas, scipy, numpy: ~110 MB) are never imported: dropped.
FROM ${BASE_IMAGE} AS deps
ARG EXTRAS=frameworks,models,tracing
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
COPY locks/ build/wheel[s] /tmp/build/
RUN set -eu; \
    name=$(python3 -c 'import sys; print("+".join(sorted({e.strip() for e in sys.argv[1].split(",") if e.strip()})) or "base")' "$EXTRAS"); \
    lock=/tmp/build/$name.txt; \
    if [ ! -f "$lock" ]; then echo "no locks/$name.txt for EXTRAS=$EXTRAS: run scripts/lock $EXTRAS" >&2; exit 1; fi; \
    python3 -m venv /opt/venv; \
    set -- --no-cache-dir --require-hashes -r "$lock"; \
    if ! ls /tmp/build/*.whl >/dev/null 2>&1; then \
        /opt/venv/bin/pip install "$@"; \
    elif ! /opt/venv/bin/pip install --no-index --find-links /tmp/build "$@"; then \
        echo "build/wheels lacks a locked wheel (run scripts/offline-images --wheels-only); trying PyPI" >&2; \
        /opt/venv/bin/pip install --find-links /tmp/build "$@"; \
    fi; \
    find /opt/venv/lib -type d -name tests -prune -exec rm -rf {} +

# --- builder: tiffin itself, without dependencies (the lock has them all), staged under
# /opt/project (a small layer for the final stage) and merged into the virtualenv; then the
# default iris models trained into the store, at the path the final stage uses.
FROM deps AS builder
COPY pyproject.toml README.md /src/
COPY app /src/app
COPY runners /src/runners
RUN set -eu; \
    if ls /tmp/build/*.whl >/dev/null 2>&1; then set -- --no-index --find-links /tmp/build; fi; \
    /opt/venv/bin/pip install "$@" --no-deps --root /opt/project /src; \
    cp -a /opt/project/. /; \
    /opt/venv/bin/pip check
ENV TIFFIN_HOME=/home/tiffin/.tiffin
COPY scripts/train-iris /src/scripts/train-iris
RUN /opt/venv/bin/python /src/scripts/train-iris

# --- the image: no compiler, no pip cache, no sources; a non-root user.
FROM ${BASE_IMAGE}
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="tiffin" \
      org.opencontainers.image.description="Model-serving appliance: inference APIs, runner sidecars, Prometheus metrics" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
# XDG_RUNTIME_DIR: where gunicorn puts its control socket (else ~/.gunicorn, absent or read-only
# in some containers); /tmp is writable here and is an emptyDir in config/k8s.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TIFFIN_HOME=/home/tiffin/.tiffin \
    XDG_RUNTIME_DIR=/tmp
# LightGBM's native library links the OpenMP runtime (libgomp1): tiffin-base:local has it
# (scripts/offline-images); another base gets it from its apt sources.
RUN if ! ldconfig -p | grep -q 'libgomp\.so\.1 '; then \
        apt-get update -q && apt-get install -q -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/*; \
    fi
RUN groupadd --system --gid 10001 tiffin \
    && useradd --system --uid 10001 --gid tiffin --home-dir /home/tiffin --create-home \
        --shell /usr/sbin/nologin tiffin

# Metadata before the files, so that a code change rebuilds only the COPY layers below.
# USER is numeric, so that Kubernetes' runAsNonRoot can check it (COPY ignores USER).
WORKDIR /app
USER 10001:10001
EXPOSE 3000 3001
# The API server's readiness; the runner role overrides it (docker-compose.yml: port 3001).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["tiffin", "healthcheck", "http://127.0.0.1:3000/readyz"]
ENTRYPOINT ["tiffin-entrypoint"]
CMD ["tiffin", "api", "--config", "/app/config/service.yaml"]

COPY --from=deps /opt/venv /opt/venv
COPY docker/entrypoint.sh /usr/local/bin/tiffin-entrypoint
# The default configuration and the examples; docker-compose.yml mounts ./config and
# ./examples over them.
COPY config /app/config
COPY examples /app/examples
COPY --from=builder /opt/project/ /
COPY --from=builder --chown=10001:10001 /home/tiffin/.tiffin /home/tiffin/.tiffin
