# syntax=docker/dockerfile:1
# The transcoder service image: built on Debian 12 with the Rust toolchain and the
# GStreamer -dev packages, run on debian:12-slim with the GStreamer runtime plugins only.
#
#   docker build -t transcoder .        (or `make image`)
#   docker run --rm -p 50051:50051 -p 8080:8080 -v transcoder-data:/data transcoder
#
# Runs as UID/GID 10001 and writes only to /data (the data dir; work files under
# /data/work) and /tmp (GStreamer's plugin registry cache), so the root filesystem can be
# mounted read-only with volumes on those two paths (the Helm chart does).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm
# Where the runtime stage takes /out/transcoder from: the build stage below, or an image
# holding a binary built elsewhere on Debian 12 (scripts/image.sh does that when no
# container registry is reachable, to build and run the runtime stage anyway).
ARG BINARY_FROM=build

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      pkg-config cmake clang \
      libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit); the binary is copied
# out of the cached target dir because a cache mount is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin transcoder \
 && install -D -m 0755 target/release/transcoder /out/transcoder

# hadolint ignore=DL3006
FROM ${BINARY_FROM} AS binary

FROM debian:12-slim AS runtime
ARG APP_UID=10001
# GStreamer 1.22 runtime plugins (demux, encode, mux, HLS/DASH), exiftool for the preset
# dialect's postback metadata, CA certificates for HTTPS origins, S3, webhooks and SMTP.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
      gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav \
      libimage-exiftool-perl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid "${APP_UID}" transcoder \
 && useradd --system --uid "${APP_UID}" --gid "${APP_UID}" --home-dir /data \
      --no-create-home --shell /usr/sbin/nologin transcoder \
 && mkdir -p /data \
 && chown "${APP_UID}:${APP_UID}" /data
COPY --from=binary /out/transcoder /usr/local/bin/transcoder
ENV TRANSCODER__DATA_DIR=/data \
    HOME=/data \
    XDG_CACHE_HOME=/tmp/cache
WORKDIR /data
VOLUME ["/data"]
USER ${APP_UID}:${APP_UID}
EXPOSE 50051 8080
ENTRYPOINT ["transcoder"]
CMD ["serve"]
