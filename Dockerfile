# One image for the three trend-stream services (collector, processor, maintenance).
# The default command runs the collector; docker-compose.kafka.yml sets the command per service.
#
# Two stages. `export` installs torch and sentence-transformers (the `export` extra) only to write
# the embedding model's ONNX export once (python -m services.processor.export, checked there
# against sentence-transformers). The final image installs the `onnx` extra instead (ONNX Runtime
# and tokenizers: no torch, no CUDA libraries, no model package), copies the export in, and runs
# the processor with EMBEDDING_BACKEND=onnx on it (docs/deployment.md, "The embedding backend").

# Build from a throw-away folder so that only the installed package is imported at run time.
# `README.m[d]`: copied when present (pyproject.toml names it as the readme), no error when not.
FROM python:3.11-slim AS export

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /tmp/build
COPY pyproject.toml README.m[d] ./
COPY streams/ streams/
COPY services/ services/
RUN pip install '.[export]' \
    && python -m services.processor.export --out /opt/trend-stream/onnx


FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATE_DIR=/var/lib/trend-stream \
    EMBEDDING_BACKEND=onnx \
    EMBEDDING_ONNX_PATH=/opt/trend-stream/onnx

# curl: the compose healthchecks call GET /health of each worker.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 trend \
    && useradd --system --uid 10001 --gid trend --home-dir /app --no-create-home trend

WORKDIR /tmp/build
COPY pyproject.toml README.m[d] ./
COPY streams/ streams/
COPY services/ services/
RUN pip install '.[onnx]' \
    && rm -rf /tmp/build

# Outside STATE_DIR, which a volume may cover: the export is part of the image.
COPY --from=export /opt/trend-stream/onnx /opt/trend-stream/onnx

RUN mkdir -p /app "${STATE_DIR}" \
    && chown trend:trend /app "${STATE_DIR}"

WORKDIR /app
USER trend

CMD ["faust", "-A", "services.collector", "worker", "-l", "info"]
