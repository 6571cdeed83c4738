# One image for the three trend-stream services (collector, processor, maintenance).
# The default command runs the collector; docker-compose.kafka.yml sets the command per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATE_DIR=/var/lib/trend-stream

# curl: the compose healthchecks call GET /health of each worker.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 trend \
    && useradd --system --uid 10001 --gid trend --home-dir /app --no-create-home trend

# Build from a throw-away folder so that only the installed package is imported at run time.
# `README.m[d]`: copied when present (pyproject.toml names it as the readme), no error when not.
WORKDIR /tmp/build
COPY pyproject.toml README.m[d] ./
COPY streams/ streams/
COPY services/ services/
RUN pip install . \
    && rm -rf /tmp/build

RUN mkdir -p /app "${STATE_DIR}" \
    && chown trend:trend /app "${STATE_DIR}"

WORKDIR /app
USER trend

CMD ["faust", "-A", "services.collector", "worker", "-l", "info"]
