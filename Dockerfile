# tb-gw in a container. UNTESTED as a whole: the machine this project is built on has no container
# engine. Checked outside a container: the build command below (both targets) and the health-check
# command against a running gateway (healthy while it runs, not after it stopped).
#
#   docker build -t tb-gw .                                    this machine's architecture
#   docker buildx build --platform linux/arm64 -t tb-gw .      for a Raspberry Pi, from a PC
#   docker run -d --name tb-gw -v tb-gw-config:/etc/tb-gw \
#     -e TB_GW_HOST=thingsboard.example.com -e TB_GW_ACCESS_TOKEN=... tb-gw
#
# The config folder /etc/tb-gw is a volume: a new named volume starts with the templates, a
# bind-mounted folder is used as it is (the Python gateway's config folder works). sqlite and file
# storage keep their data under it ("./data/" is relative to the config folder). Serial devices
# need --device /dev/ttyUSB0; the BLE connector would need the host's system D-Bus socket mounted
# (/run/dbus/system_bus_socket), not tried.

# Build on the builder's own architecture and cross-compile for the target: Bun (the npm `bun`
# package) fetches the target's runtime from the npm registry, no emulation needed.
FROM --platform=$BUILDPLATFORM node:22-bookworm-slim AS build
ARG TARGETARCH
WORKDIR /src
# The ODBC connector's native binding is compiled by build.ts (build/odbc-addon.ts): a C++ compiler
# and unixODBC's headers for the target's architecture; for another architecture than the
# builder's, Debian's cross compiler and that architecture's unixodbc-dev (multiarch).
RUN build=$(dpkg --print-architecture) \
 && apt-get update && apt-get install -y --no-install-recommends g++ make python3 unixodbc-dev \
 && if [ "$TARGETARCH" != "$build" ]; then \
      case "$TARGETARCH" in arm64) triplet=aarch64-linux-gnu ;; amd64) triplet=x86-64-linux-gnu ;; esac; \
      dpkg --add-architecture "$TARGETARCH" && apt-get update \
      && apt-get install -y --no-install-recommends "g++-$triplet" "unixodbc-dev:$TARGETARCH"; \
    fi \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN case "$TARGETARCH" in amd64) t=linux-x64 ;; arm64) t=linux-arm64 ;; *) echo "no tb-gw build for $TARGETARCH" >&2; exit 1 ;; esac \
 && node_modules/.bin/bun build.ts --target "$t" \
 && cp "dist/tb-gw-$t" /tb-gw

# glibc (the binary is linked against it), socat for the health check, and unixODBC's libodbc for
# the ODBC connector (add your database's ODBC driver, e.g. odbc-postgresql, in an image FROM this one).
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends socat unixodbc && rm -rf /var/lib/apt/lists/*
COPY --from=build /tb-gw /usr/local/bin/tb-gw
COPY config-templates/ /etc/tb-gw/
# The status socket goes to $XDG_RUNTIME_DIR/tb-gw.sock; the health check asks it for a status
# line: the gateway process is up and its event loop answers (a platform that is down is not
# unhealthy: data waits in storage).
ENV XDG_RUNTIME_DIR=/run/tb-gw
RUN mkdir -p -m 0700 /run/tb-gw
VOLUME /etc/tb-gw
WORKDIR /etc/tb-gw
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD echo '{"cmd":"status"}' | socat -t 3 - UNIX-CONNECT:/run/tb-gw/tb-gw.sock | grep -q '"kind":"status"'
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/tb-gw"]
CMD ["run", "--config", "/etc/tb-gw/tb_gateway.json"]
