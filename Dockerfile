# syntax=docker/dockerfile:1
# The sloguard agent image: built from the locked dependencies, run as a non-root user.
# Build: docker build -t sloguard .        Run: docker run --rm sloguard validate /defs

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install "uv>=0.4,<1"
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY agent ./agent
COPY slo-definitions ./slo-definitions
# Locked, hash-checked runtime dependencies, then the package itself (with its bundled examples).
RUN uv export --frozen --no-dev --no-emit-project --format requirements-txt -o requirements.txt \
 && python -m venv /opt/sloguard \
 && /opt/sloguard/bin/pip install --require-hashes -r requirements.txt \
 && /opt/sloguard/bin/pip install --no-deps . \
 && /opt/sloguard/bin/pip uninstall -y pip

FROM python:3.11-slim-bookworm
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin sloguard
COPY --from=build /opt/sloguard /opt/sloguard
ENV PATH=/opt/sloguard/bin:$PATH PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /work
# `sloguard run` serves /metrics, /healthz, /readyz and /v1/slos here.
EXPOSE 8080
ENTRYPOINT ["sloguard"]
CMD ["--help"]
