#!/usr/bin/env bash
# Installs tb-gw: builds the single binary if needed, copies it to PREFIX/bin, creates the config
# folder with ready templates (existing files are never overwritten) and, with --systemd, a unit.
#
#   ./install.sh                      binary to /usr/local/bin, configs to /etc/tb-gw
#   ./install.sh --prefix ~/.local --config-dir ~/.config/tb-gw
#   sudo ./install.sh --systemd       also install and enable tb-gw.service (not started), and the
#                                     template tb-gw@.service for instances (README "Scaling out")
set -euo pipefail
cd "$(dirname "$0")"

PREFIX=/usr/local
CONFIG_DIR=/etc/tb-gw
SYSTEMD=0
UNIT_DIR=/etc/systemd/system
usage() {
  cat <<'USAGE'
Usage: ./install.sh [--prefix DIR] [--config-dir DIR] [--systemd [--unit-dir DIR]]

Installs tb-gw: builds dist/tb-gw if it is missing or older than the sources (needs npm), copies it
to PREFIX/bin, and creates the config folder with ready templates (existing files are never
overwritten).

Options:
  --prefix DIR       where bin/tb-gw goes (default /usr/local)
  --config-dir DIR   the config folder (default /etc/tb-gw)
  --systemd          also write and enable /etc/systemd/system/tb-gw.service (not started), and
                     write the template unit tb-gw@.service: several gateways on one config,
                     e.g. systemctl enable --now tb-gw@1 tb-gw@2 (instance N reads its own
                     variables, such as TB_GW_ACCESS_TOKEN, from CONFIG_DIR/instance-N.env)
  --unit-dir DIR     where --systemd writes the units (default /etc/systemd/system); with
                     another folder systemctl is not called
  -h, --help         this text

Examples:
  ./install.sh                                      binary to /usr/local/bin, configs to /etc/tb-gw
  ./install.sh --prefix ~/.local --config-dir ~/.config/tb-gw
  sudo ./install.sh --systemd && sudo systemctl start tb-gw
  sudo ./install.sh --systemd && sudo systemctl enable --now tb-gw@1 tb-gw@2

Exit codes: 0 installed, 1 build or copy failed, 2 unknown option.
USAGE
}
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --config-dir) CONFIG_DIR="$2"; shift 2 ;;
    --systemd) SYSTEMD=1; shift ;;
    --unit-dir) UNIT_DIR="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

if [ ! -x dist/tb-gw ] || [ -n "$(find cli src build.ts package.json -newer dist/tb-gw -print -quit 2>/dev/null)" ]; then
  if [ ! -x node_modules/.bin/bun ]; then
    command -v npm >/dev/null || { echo "install.sh: npm is needed to build (apt-get install -y nodejs npm)" >&2; exit 1; }
    npm ci --no-audit --no-fund --loglevel=error
  fi
  node_modules/.bin/bun build.ts
fi

install -d "$PREFIX/bin"
install -m 0755 dist/tb-gw "$PREFIX/bin/tb-gw"
echo "installed $PREFIX/bin/tb-gw ($("$PREFIX/bin/tb-gw" --version))"

install -d "$CONFIG_DIR"
for f in config-templates/*.json; do
  [ -e "$f" ] || continue
  dest="$CONFIG_DIR/$(basename "$f")"
  [ -e "$dest" ] || install -m 0644 "$f" "$dest"
done
if [ -d config-templates/schemas ]; then
  install -d "$CONFIG_DIR/schemas"
  cp -n config-templates/schemas/*.json "$CONFIG_DIR/schemas/" 2>/dev/null || true
fi
echo "config folder: $CONFIG_DIR (templates copied where no file existed)"

if [ "$SYSTEMD" = 1 ]; then
  install -d "$UNIT_DIR"
  unit="$UNIT_DIR/tb-gw.service"
  cat > "$unit" <<UNIT
[Unit]
Description=tb-gw IoT gateway for ThingsBoard
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$PREFIX/bin/tb-gw run --config $CONFIG_DIR/tb_gateway.json
WorkingDirectory=$CONFIG_DIR
Restart=always
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
UNIT
  # One config, several gateways: tb-gw@N runs instance N (storage, status socket, device list and
  # broker client ids per instance; README "Scaling out"). Its own token goes in instance-N.env.
  template="$UNIT_DIR/tb-gw@.service"
  cat > "$template" <<UNIT
[Unit]
Description=tb-gw IoT gateway for ThingsBoard, instance %i
After=network-online.target
Wants=network-online.target

[Service]
EnvironmentFile=-$CONFIG_DIR/instance-%i.env
ExecStart=$PREFIX/bin/tb-gw run --config $CONFIG_DIR/tb_gateway.json --instance %i
WorkingDirectory=$CONFIG_DIR
Restart=always
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
UNIT
  if [ "$UNIT_DIR" = /etc/systemd/system ] && command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload && systemctl enable tb-gw.service; fi
  echo "systemd units: $unit (start with: systemctl start tb-gw), $template (instances: systemctl enable --now tb-gw@1 tb-gw@2)"
fi
