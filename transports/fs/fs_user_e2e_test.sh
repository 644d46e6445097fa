#!/usr/bin/env bash
# --user with the fs transport: both daemons drop root for `nobody` after
# set-up, and still carry traffic, because the folders they created during
# set-up were given to that user. Needs real uid switching, so it runs
# outside the Bazel sandbox (tag no-sandbox), in namespaces it creates.
set -euo pipefail
FSTUN="$(realpath "$1")"
source "$(dirname "$0")/../../testing/netns.sh"
id nobody >/dev/null 2>&1 || { echo "SKIP: no user 'nobody'"; exit 0; }

# In /tmp: nobody must be able to walk down to the folder.
work="$(mktemp -d /tmp/fstun-fs-user.XXXXXX)"
chmod 755 "$work"
mkdir "$work/share" "$work/state"
chown nobody "$work/share"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  netns_cleanup
  rm -rf "$work"
}
netns_new s
netns_new c
trap cleanup EXIT  # after netns_new, which sets its own EXIT trap
start() {  # start NS ADDR
  nsenter -t "$(netns_pid "$1")" -n "$FSTUN" --transport=fs --dirpath="$work/share" \
      --ip="$2" --ifname=fsu0 --state_dir="$work/state" --control_dir="$work/state" \
      --user=nobody 2>"$work/$1.log" &
  pids+=($!)
}
start s 192.0.2.1/24
start c 192.0.2.2/24
for _ in $(seq 100); do
  grep -q "privileges dropped" "$work/s.log" 2>/dev/null &&
    grep -q "privileges dropped" "$work/c.log" 2>/dev/null && break
  sleep 0.1
done
grep -q "privileges dropped: uid $(id -u nobody)" "$work/c.log" ||
  { echo "FAIL: the client did not switch to nobody"; cat "$work/c.log"; exit 1; }
# The peers find each other through their announcements (about a second).
ok=0
for _ in $(seq 20); do
  if netns_exec c ping -c 1 -W 1 192.0.2.1 >/dev/null 2>&1; then ok=1; break; fi
done
[[ $ok == 1 ]] || { echo "FAIL: no traffic after dropping to nobody"; cat "$work/s.log" "$work/c.log"; exit 1; }
netns_exec c ping -c 5 -i 0.1 -W 2 192.0.2.1 >/dev/null ||
  { echo "FAIL: traffic stopped"; exit 1; }
owner="$(stat -c %U "$work/share/inbox/192-0-2-2")"
[[ "$owner" == nobody ]] || { echo "FAIL: the client's inbox belongs to $owner"; exit 1; }
echo PASS
