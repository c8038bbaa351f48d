# syntax=docker/dockerfile:1
# Shelfwarden container image: built from source in a Rust stage, run from distroless as a
# non-root user with nothing but the binary (no shell, no package manager).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Build facts shown by `shelfwarden --version`; pass --build-arg GIT_HASH=$(git rev-parse HEAD).
ARG GIT_HASH=unknown
ARG SOURCE_DATE_EPOCH
ENV GIT_HASH=${GIT_HASH}
COPY . .
RUN cargo build --release --locked \
    && install -D -m 0755 target/release/shelfwarden /out/shelfwarden \
    && install -d -m 0700 /out/data

# distroless/cc: glibc and CA certificates only. The :nonroot tag's default user is 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/shelfwarden /shelfwarden
# /data is the only path the server writes; owned by the runtime user so a fresh named volume
# inherits the owner and mode 0700.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# Bind all interfaces inside the container (the port mapping decides exposure). With no
# certificate configured that means HTTPS with a self-signed certificate: plain HTTP on a
# non-loopback address is refused unless SHELFWARDEN_INSECURE_HTTP=1 or behind_proxy is set.
ENV SHELFWARDEN_DATA=/data \
    SHELFWARDEN_BIND=0.0.0.0 \
    SHELFWARDEN_PORT=13378
EXPOSE 13378
VOLUME ["/data"]
# The binary checks itself: no shell or curl in the image.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/shelfwarden", "healthcheck"]
ENTRYPOINT ["/shelfwarden"]
CMD ["serve"]
