#!/usr/bin/env bash
# Removes what dist/install.sh installed (run as root; tools/uninstall calls
# this). Running fstun@ instances are stopped and disabled first, which
# restores the host (routes, forwarding, NAT). Your own /etc/fstun/*.flags
# stay; only the *.example files go (and the directory, if then empty).
#   DESTDIR=/x, PREFIX=/usr: as for install.
set -euo pipefail
DESTDIR="${DESTDIR:-}"
PREFIX="${PREFIX:-/usr/local}"
for arg in "$@"; do
  case "$arg" in
    -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "uninstall: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ -z "$DESTDIR" && $EUID -ne 0 ]]; then
  echo "uninstall: run as root (or set DESTDIR)" >&2
  exit 1
fi

if [[ -z "$DESTDIR" ]] && [[ -d /run/systemd/system ]]; then
  mapfile -t units < <(systemctl list-units --all --plain --no-legend 'fstun@*.service' | awk '{print $1}')
  if [[ ${#units[@]} -gt 0 ]]; then
    echo "uninstall: stopping ${units[*]}"
    systemctl disable --now "${units[@]}" || true
  fi
fi
rm -f "$DESTDIR$PREFIX/sbin/fstun" "$DESTDIR/etc/systemd/system/fstun@.service"
rm -f "$DESTDIR/etc/fstun/server.flags.example" "$DESTDIR/etc/fstun/client.flags.example"
rm -rf "$DESTDIR$PREFIX/share/doc/fstun"
rmdir "$DESTDIR/etc/fstun" 2>/dev/null || echo "uninstall: kept your configuration in /etc/fstun"
if [[ -z "$DESTDIR" ]] && [[ -d /run/systemd/system ]]; then
  systemctl daemon-reload
fi
echo "uninstall: removed $PREFIX/sbin/fstun, the unit and the examples"
