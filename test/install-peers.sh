#!/usr/bin/env bash
# Installs the Debian packages the tests use as real peers, only where missing.
# Peers: mosquitto (MQTT brokers), socat (serial pty pairs), python3-pymodbus (Modbus device;
# its server imports pyserial, which Debian only recommends, so python3-serial-asyncio is named),
# snmpd + snmp (SNMP agent and tools), dbus-daemon (private bus for the BLE no-adapter tests),
# openssl (test certificates for the OPC-UA server-trust tests),
# tmux (a real pseudo-terminal for the Ink view of tb-gw tail),
# qemu-user-static + libc6:arm64 (the linux-arm64 binary runs under qemu-user on an x64 machine;
# libc6:arm64 needs the arm64 architecture added to dpkg, and a package list that includes it),
# curl (the device calling the REST connector; python3's http.server is the device for Request),
# python3-can (the CAN device side: its slcan interface over a socat pty pair; pyserial comes with it),
# python3-websockets (the hand-written OCPP-J 1.6 charge point of the OCPP tests),
# prosody (the XMPP server the XMPP tests start on free loopback ports with their own config) and
# python3-slixmpp (the XMPP device, the library upstream's connector uses),
# python3-pyftpdlib + python3-openssl (the FTP/FTPS server for the FTP connector; its TLS handler
# needs pyOpenSSL, which Debian only recommends),
# knxd + knxd-tools (KNX: knxd with a dummy bus as the KNXnet/IP tunnelling or routing server,
# knxtool to write group values and watch the bus; the routing test also uses socat to bridge the
# platform broker into its namespace),
# python3-grpcio + python3-grpc-tools (the out-of-process gRPC connector: stubs generated from our
# messages.proto by grpc_tools.protoc at test time, a Python process as the connector),
# iproute2 (`ip netns`/veth: the KNX tests run knxd in a network namespace of their own, as its
# server always joins a multicast group; needs root),
# unixodbc + odbcinst (the ODBC driver manager the ODBC connector loads), libsqliteodbc and
# odbc-postgresql (ODBC drivers), postgresql (a server the ODBC tests start in a temporary folder),
# unixodbc-dev, g++, make, python3 (build/odbc-addon.ts compiles the odbc package's binding);
# on x64 also g++-aarch64-linux-gnu, unixodbc-dev:arm64, libstdc++6:arm64, libsqliteodbc:arm64
# (the binding cross-compiled for the arm64 executable, and run by its test under qemu),
# libfaketime (a faked system clock for the gateway in the clock-jump test: stepped at run time),
# vsftpd (a second, independent FTP server for the FTP connector; its own service is stopped),
# linux-image-amd64 + qemu-system-x86 + busybox-static + can-utils (x86-64 only: the SocketCAN test
# boots Debian's kernel, which has vcan, under qemu with an initramfs of busybox and its modules;
# cansend/candump are the bus peer inside the VM; see src/connectors/can/test/vm.ts).
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
peers=(
  mosquitto socat python3-pymodbus python3-serial-asyncio snmpd snmp dbus-daemon openssl tmux curl
  python3-can python3-websockets prosody python3-slixmpp python3-pyftpdlib python3-openssl knxd
  knxd-tools python3-grpcio python3-grpc-tools iproute2 unixodbc odbcinst unixodbc-dev
  libsqliteodbc odbc-postgresql postgresql g++ make python3 libfaketime vsftpd
)
for p in "${peers[@]}"; do
  have "$p" || need+=("$p")
done
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ "$(dpkg --print-architecture)" = amd64 ]; then
  for p in linux-image-amd64 qemu-system-x86 busybox-static can-utils; do
    have "$p" || need+=("$p")
  done
fi
if [ "$(dpkg --print-architecture)" != arm64 ]; then
  have qemu-user-static || need+=(qemu-user-static)
  if ! have libc6:arm64; then
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      $SUDO dpkg --add-architecture arm64
    fi
    need+=(libc6:arm64)
  fi
  # the arm64 ODBC binding: cross-compiled (g++-aarch64-linux-gnu, unixodbc-dev:arm64) and run
  # under qemu with the arm64 libodbc, libstdc++ and SQLite ODBC driver
  for p in g++-aarch64-linux-gnu unixodbc-dev:arm64 libstdc++6:arm64 libsqliteodbc:arm64; do
    have "$p" || need+=("$p")
  done
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test peers: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts system services on install; tests run their own instances on free ports.
for svc in mosquitto snmpd prosody knxd.socket knxd postgresql vsftpd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
# Prosody's own service would hold the XMPP ports and is not needed at boot either.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet prosody 2>/dev/null; then
  systemctl disable prosody >/dev/null 2>&1 || true
fi
