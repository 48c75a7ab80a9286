# Kindling in a container (docs/deployment.md, "Container").
#
#   docker build -t kindling .
#   docker run -d --name kindling -p 8000:8000 -v kindling-data:/var/lib/kindling kindling
#
# Two stages: the first builds Kindling and its dependencies into a virtual environment,
# the second copies only that environment onto a fresh slim image and runs it as an
# unprivileged user. Every dependency is a binary wheel, so no compiler is installed.

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /opt/kindling \
    && /opt/kindling/bin/pip install --no-cache-dir "/src[postgres]"

FROM python:3.11.14-slim-bookworm
LABEL org.opencontainers.image.title="Kindling" \
      org.opencontainers.image.description="Self-hosted server for Kinde's M2M OAuth flow and Management API" \
      org.opencontainers.image.licenses="MIT"
# A fixed uid/gid, so volume ownership and a Kubernetes runAsUser can name it.
RUN groupadd --system --gid 10001 kindling \
    && useradd --system --uid 10001 --gid kindling --no-create-home \
       --home-dir /var/lib/kindling --shell /usr/sbin/nologin kindling \
    && install -d -m 0700 -o kindling -g kindling /var/lib/kindling
COPY --from=build /opt/kindling /opt/kindling
ENV PATH=/opt/kindling/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KINDLING_DATA_DIR=/var/lib/kindling
USER 10001:10001
WORKDIR /var/lib/kindling
VOLUME ["/var/lib/kindling"]
EXPOSE 8000
# Liveness only: /healthz answers 200 while the process serves, even with the database
# down (then /readyz and the API answer 503 with Retry-After). The slim image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["kindling", "serve", "--host", "0.0.0.0", "--port", "8000", "--log-format", "json"]
