# syntax=docker/dockerfile:1
#
# c1bot container image.
#   docker build -t c1bot .
#   docker run --env-file .env -v c1bot-data:/data c1bot
# blocks/ and policies/ live in /app and can be replaced by mounting over them:
#   -v "$PWD/policies:/app/policies:ro"

# --- build --------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# benches/ is declared in Cargo.toml, so cargo wants it present even for --bin.
COPY benches ./benches
COPY src ./src
# Cache mounts keep the registry and compiled dependencies between builds. They are
# not part of the layer, so the binary is copied out of the cached target dir.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin c1bot \
    && cp target/release/c1bot /c1bot \
    && mkdir /data

# --- runtime ------------------------------------------------------------------
# distroless/cc: glibc and libgcc (the binary and ring link them), CA certificates,
# no shell, no package manager. The :nonroot tag runs as uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
# Binary, templates and policies stay owned by root: the process cannot modify them.
COPY --from=build /c1bot /app/c1bot
COPY blocks/ /app/blocks/
COPY policies/ /app/policies/
# /data must exist and belong to the runtime user before VOLUME, or a fresh named
# volume is created root-owned and sled cannot write to it.
COPY --from=build --chown=65532:65532 /data /data
ENV C1BOT_DATA_DIR=/data
VOLUME ["/data"]
USER 65532:65532
# Distroless has no shell or curl, so the probe is the binary itself: `c1bot
# healthcheck` asks the local /readyz (Socket Mode connected, store readable).
ENV C1BOT_HEALTH_LISTEN=127.0.0.1:9090
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/app/c1bot", "healthcheck"]
# Exec form: c1bot is PID 1 and receives SIGTERM directly for a graceful shutdown.
ENTRYPOINT ["/app/c1bot"]
CMD ["run"]
