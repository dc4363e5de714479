# syntax=docker/dockerfile:1
# One image for all four services and the tools; the subcommand picks the role:
#   docker build -t streamstash:local .
#   docker run --rm streamstash:local parser --config /etc/streamstash/pipeline.yml
# Every dependency ships manylinux wheels for CPython 3.11, so no compiler is needed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install . \
    && rm -rf /src

# Non-root; /var/lib/streamstash (state_dir: collector checkpoints, aggregator RocksDB) is owned by it,
# so a named volume mounted there starts out writable.
RUN groupadd --system --gid 10001 streamstash \
    && useradd --system --uid 10001 --gid streamstash --home-dir /var/lib/streamstash \
       --no-create-home --shell /usr/sbin/nologin streamstash \
    && mkdir -p /var/lib/streamstash /etc/streamstash \
    && chown streamstash:streamstash /var/lib/streamstash

USER streamstash:streamstash
WORKDIR /var/lib/streamstash
# /metrics, /healthz and /readyz of each service.
EXPOSE 9600
ENTRYPOINT ["streamstash"]
CMD ["--help"]
