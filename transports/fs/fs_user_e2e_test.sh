#!/usr/bin/env bash
# --user and --fs_group with the fs transport: both daemons drop root for
# `nobody` after set-up, and still carry traffic, because the folders they
# created during set-up were given to that user; with --fs_group what they
# create is shared with the group (0770/0660) instead of owner-only. Needs real uid switching, so it runs
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
group="$(id -gn nobody)"
start() {  # start NS ADDR
  nsenter -t "$(netns_pid "$1")" -n "$FSTUN" --transport=fs --dirpath="$work/share" \
      --ip="$2" --ifname=fsu0 --state_dir="$work/state" --control_dir="$work/state" \
      --user=nobody --fs_group="$group" 2>"$work/$1.log" &
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
# --fs_group: folders 0770 and files 0660, of that group (not owner-only).
mode="$(stat -c '%a %G' "$work/share/inbox/192-0-2-2")"
[[ "$mode" == "770 $group" ]] || { echo "FAIL: inbox is '$mode', want '770 $group'"; exit 1; }
mode="$(stat -c '%a %G' "$work/share/peers/192-0-2-2.peer")"
[[ "$mode" == "660 $group" ]] || { echo "FAIL: announcement is '$mode', want '660 $group'"; exit 1; }
# (in the test namespace: were the check to fail, nothing may touch the host)
out="$(netns_exec s "$FSTUN" --transport=fs --dirpath="$work/share" --ip=192.0.2.9/24 --ifname=fsu9 --state_dir="$work/state" --fs_group=no-such-group-x 2>&1)" && rc=0 || rc=$?
[[ $rc == 2 && "$out" == *"--fs_group: no such group 'no-such-group-x'"* ]] ||
  { echo "FAIL: unknown group gave rc=$rc: $out"; exit 1; }
echo PASS
