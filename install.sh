#!/usr/bin/env bash
# Installs tb-gw: builds the single binary if needed, copies it to PREFIX/bin, creates the config
# folder with ready templates (existing files are never overwritten) and, with --systemd, a unit.
#
#   ./install.sh                      binary to /usr/local/bin, configs to /etc/tb-gw
#   ./install.sh --prefix ~/.local --config-dir ~/.config/tb-gw
#   sudo ./install.sh --systemd       also install and enable tb-gw.service (not started)
set -euo pipefail
cd "$(dirname "$0")"

PREFIX=/usr/local
CONFIG_DIR=/etc/tb-gw
SYSTEMD=0
usage() {
  cat <<'USAGE'
Usage: ./install.sh [--prefix DIR] [--config-dir DIR] [--systemd]

Installs tb-gw: builds dist/tb-gw if it is missing or older than the sources (needs npm), copies it
to PREFIX/bin, and creates the config folder with ready templates (existing files are never
overwritten).

Options:
  --prefix DIR       where bin/tb-gw goes (default /usr/local)
  --config-dir DIR   the config folder (default /etc/tb-gw)
  --systemd          also write and enable /etc/systemd/system/tb-gw.service (not started)
  -h, --help         this text

Examples:
  ./install.sh                                      binary to /usr/local/bin, configs to /etc/tb-gw
  ./install.sh --prefix ~/.local --config-dir ~/.config/tb-gw
  sudo ./install.sh --systemd && sudo systemctl start tb-gw

Exit codes: 0 installed, 1 build or copy failed, 2 unknown option.
USAGE
}
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --config-dir) CONFIG_DIR="$2"; shift 2 ;;
    --systemd) SYSTEMD=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

if [ ! -x dist/tb-gw ] || [ -n "$(find cli src build build.ts package.json -newer dist/tb-gw -print -quit 2>/dev/null)" ]; then
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
  unit=/etc/systemd/system/tb-gw.service
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
  if command -v systemctl >/dev/null 2>&1; then systemctl daemon-reload && systemctl enable tb-gw.service; fi
  echo "systemd unit: $unit (start with: systemctl start tb-gw)"
fi
