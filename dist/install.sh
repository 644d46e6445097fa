#!/usr/bin/env bash
# Installs fstun on this host (run as root; tools/install calls this):
#   /usr/local/sbin/fstun                      the binary, built with -c opt
#   /etc/systemd/system/fstun@.service         the unit (docs/operations.md)
#   /etc/fstun/server.flags.example, client.flags.example
#   /usr/local/share/doc/fstun/operations.md
# Then: cp /etc/fstun/server.flags.example /etc/fstun/tun0.flags, edit it,
# and systemctl enable --now fstun@tun0.
#
# Options (for packaging and tests):
#   --binary=PATH   install this binary instead of building one
#   DESTDIR=/x      install under /x (no systemctl calls then)
#   PREFIX=/usr     instead of /usr/local
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
DESTDIR="${DESTDIR:-}"
PREFIX="${PREFIX:-/usr/local}"
binary=""
for arg in "$@"; do
  case "$arg" in
    --binary=*) binary="${arg#--binary=}" ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z "$DESTDIR" && $EUID -ne 0 ]]; then
  echo "install: run as root (or set DESTDIR)" >&2
  exit 1
fi

if [[ -z "$binary" ]]; then
  echo "install: building fstun (bazel build -c opt //cmd:fstun)"
  (cd "$SRC" && bazel build -c opt //cmd:fstun)
  binary="$(cd "$SRC" && bazel info -c opt bazel-bin)/cmd/fstun"
fi
[[ -x "$binary" ]] || { echo "install: $binary is not an executable" >&2; exit 1; }

sbin="$DESTDIR$PREFIX/sbin"
unit_dir="$DESTDIR/etc/systemd/system"
conf_dir="$DESTDIR/etc/fstun"
doc_dir="$DESTDIR$PREFIX/share/doc/fstun"
install -d -m 0755 "$sbin" "$unit_dir" "$doc_dir"
install -d -m 0755 "$conf_dir"
# Replace, never write into, a running binary: install(1) unlinks first.
install -m 0755 "$binary" "$sbin/fstun"
sed "s#/usr/local/sbin/fstun#$PREFIX/sbin/fstun#g" "$SRC/dist/systemd/fstun@.service" >"$unit_dir/fstun@.service.tmp"
chmod 0644 "$unit_dir/fstun@.service.tmp"
mv "$unit_dir/fstun@.service.tmp" "$unit_dir/fstun@.service"
for example in server client; do
  install -m 0644 "$SRC/docs/examples/$example.flags" "$conf_dir/$example.flags.example"
done
install -m 0644 "$SRC/docs/operations.md" "$doc_dir/operations.md"
echo "install: $PREFIX/sbin/fstun, /etc/systemd/system/fstun@.service, /etc/fstun/{server,client}.flags.example"

if [[ -z "$DESTDIR" ]] && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
fi
cat <<NEXT
Next:
  cp /etc/fstun/server.flags.example /etc/fstun/tun0.flags   # or client.flags.example
  \$EDITOR /etc/fstun/tun0.flags                               # --dirpath, --ip
  systemctl enable --now fstun@tun0
  fstun status --ifname=tun0
NEXT
