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
# linux-image-amd64 + qemu-system-x86 + busybox-static + can-utils (x86-64 only: the SocketCAN test
# boots Debian's kernel, which has vcan, under qemu with an initramfs of busybox and its modules;
# cansend/candump are the bus peer inside the VM; see src/connectors/can/test/vm.ts).
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in mosquitto socat python3-pymodbus python3-serial-asyncio snmpd snmp dbus-daemon openssl tmux curl python3-can python3-websockets; do
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
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing test peers: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts system services on install; tests run their own instances on free ports.
for svc in mosquitto snmpd; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
