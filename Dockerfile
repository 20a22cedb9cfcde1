# anthroxy in a container: docs/deploy/README.md explains the volumes, variables and replicas.
#   docker build -t anthroxy .
#   docker run -p 8082:8082 -e ANTHROXY_AUTH_TOKEN=... -e DEEPSEEK_API_KEY=... anthroxy

# The wheel is built in a stage of its own, so the image holds neither the sources nor the
# build tools.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY anthroxy ./anthroxy
COPY anthroxy_server ./anthroxy_server
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.12-slim
# The runtime dependencies only (pyproject's [project] dependencies), no test extras.
# (RUN --mount needs BuildKit, the default builder since Docker 23.)
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir /wheels/*.whl

# A numeric user: Kubernetes' runAsNonRoot can only verify a numeric USER.
RUN groupadd --system --gid 10001 anthroxy \
    && useradd --system --uid 10001 --gid 10001 --home-dir /state --no-create-home anthroxy \
    && mkdir -p /config /state \
    && chown 10001:10001 /state

# Config in /config (config.toml, and a .env beside it if you keep keys in a file); everything
# the proxy writes (usage ledger, logs, fingerprint key, caches, logins) under /state.
# PYTHONDONTWRITEBYTECODE: the root filesystem may be read-only.
ENV ANTHROXY_CONFIG=/config/config.toml \
    XDG_CONFIG_HOME=/config \
    XDG_STATE_HOME=/state \
    XDG_CACHE_HOME=/state/cache \
    XDG_DATA_HOME=/state/data \
    HOME=/state \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A config that names no provider: every catalogue provider whose key variable is set is
# offered. Mount your own /config to replace it.
COPY --chown=10001:10001 docs/deploy/default-config.toml /config/config.toml
VOLUME ["/config", "/state"]

USER 10001:10001
WORKDIR /state
EXPOSE 8082

# /healthz answers 200 ("ok" or "degraded") without the token; python, as slim has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8082/healthz', timeout=4).status == 200 else 1)"]

# Every interface, so the port can be published; the server refuses to start without
# ANTHROXY_AUTH_TOKEN (or server.auth_token) on such an address.
CMD ["python", "-m", "anthroxy_server", "serve", "--host", "0.0.0.0", "--port", "8082"]
