# syntax=docker/dockerfile:1
# Food-delivery chaos testbed: one image holding all six binaries
# (user-service, restaurant-service, order-service, testbed, loadgen, faultproxy) plus scenarios/.
# docker-compose.yml runs one service per container by overriding the command.
#
#   docker build -t food-testbed .
#   docker run --rm -p 8001:8001 -e JWT_SECRET=... food-testbed            # user-service
#   docker run --rm -p 8002:8002 -e PORT=8002 -e JWT_SECRET=... food-testbed restaurant-service

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

# ---- chef: the toolchain plus cargo-chef --------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS chef
RUN cargo install cargo-chef --locked
WORKDIR /app

# ---- planner: reduce the workspace to a dependency recipe ----------------------------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- builder: dependencies in their own cached layer, then the workspace ------------------
FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# Rebuilt only when Cargo.toml / Cargo.lock change.
RUN cargo chef cook --release --workspace --locked --recipe-path recipe.json
COPY . .
# testkit is the tests' kit (a dev-dependency): nothing in the image links it.
RUN cargo build --release --workspace --exclude testkit --locked \
 && mkdir -p /out \
 && for bin in user-service restaurant-service order-service testbed loadgen faultproxy; do \
        cp "target/release/$bin" /out/; \
    done

# ---- runtime: small, non-root --------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 testbed \
 && useradd --system --uid 10001 --gid testbed --home-dir /app --shell /usr/sbin/nologin testbed \
 && mkdir -p /app/data /reports \
 && chown testbed:testbed /app/data /reports
WORKDIR /app
COPY --from=builder /out/ /usr/local/bin/
COPY scenarios/ /app/scenarios/
USER testbed:testbed
ENV HOST=0.0.0.0 \
    PORT=8001 \
    RUST_LOG=info \
    LOG_FORMAT=json
EXPOSE 8001 8002 8003
# Shell form so that $PORT is the container's own (compose sets it per service).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${PORT}/health" >/dev/null || exit 1
CMD ["user-service"]
