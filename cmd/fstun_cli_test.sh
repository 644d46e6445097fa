#!/usr/bin/env bash
# The command's user-facing surface without a network: help, version, the
# transport list, and clear one-line usage errors with exit code 2.
set -uo pipefail
FSTUN="$1"
fail=0
check() {  # check NAME EXPECTED_RC EXPECTED_STDERR_SUBSTRING ARGS...
  local name=$1 want_rc=$2 want=$3; shift 3
  local out rc
  out=$("$FSTUN" "$@" 2>&1); rc=$?
  if [[ $rc -ne $want_rc ]]; then echo "FAIL $name: rc=$rc want $want_rc: $out"; fail=1; return; fi
  if [[ "$out" != *"$want"* ]]; then echo "FAIL $name: output lacks '$want': $out"; fail=1; return; fi
  if [[ $want_rc -eq 2 && $(wc -l <<<"$out") -ne 1 ]]; then echo "FAIL $name: not one line: $out"; fail=1; return; fi
  echo "ok   $name"
}

check list 0 "loopback   echo" --list_transports
check list_memory 0 "memory " --list_transports
check version 0 "fstun version" --version
for flag in role server client transport ifname ip mtu list_transports v; do
  check "help documents --$flag" 0 "  --$flag (" --help
done
check missing_ip 2 "--ip is required" --transport=loopback
check bad_cidr 2 "bad prefix length in '192.0.2.1/40'" --transport=loopback --ip=192.0.2.1/40
check bad_address 2 "bad address 'banana'" --transport=loopback --ip=banana
check unknown_flag 2 "unknown flag --frobnicate" --frobnicate=1
check unknown_transport 2 "unknown transport 'carrier-pigeon'; known:" --transport=carrier-pigeon --ip=192.0.2.1/24
check bad_role 2 "--role must be server, client or none" --role=router --transport=loopback --ip=192.0.2.1/24
check both_aliases 2 "cannot both be given" --server --client --transport=loopback --ip=192.0.2.1/24
check alias_conflict 2 "--client conflicts with --role=server" --client --role=server --transport=loopback --ip=192.0.2.1/24
check bad_mtu 2 "--mtu must be between 576 and 65535" --mtu=100 --transport=loopback --ip=192.0.2.1/24
check v6_mtu 2 "--mtu must be between 1280 and 65535 with IPv6" --mtu=1000 --transport=loopback --ip=2001:db8::1/64
check bad_ifname 2 "is not a valid interface name" --ifname=this-name-is-way-too-long --transport=loopback --ip=192.0.2.1/24
check stray_word 2 "unknown command 'frob'" frob
check flag_without_value 2 "flag --ip needs a value" --transport=loopback --ip
# Keys (identity/keys.h): genkey | pubkey as `wg genkey | wg pubkey`.
priv=$("$FSTUN" genkey); pub=$(printf '%s\n' "$priv" | "$FSTUN" pubkey); rc=$?
if [[ $rc -eq 0 && ${#priv} -eq 44 && ${#pub} -eq 44 && "$pub" != "$priv" ]]; then
  echo "ok   genkey | pubkey"; else echo "FAIL genkey | pubkey: rc=$rc '$pub'"; fail=1; fi
# RFC 7748 section 6.1 (Alice): the public key of a known private key.
pub=$(echo "dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=" | "$FSTUN" pubkey)
if [[ "$pub" == "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=" ]]; then
  echo "ok   pubkey of the RFC 7748 vector"; else echo "FAIL pubkey vector: '$pub'"; fail=1; fi
out=$(echo "SECRETnotakey" | "$FSTUN" pubkey 2>&1); rc=$?
if [[ $rc -eq 2 && "$out" == *"does not hold a private key"* && "$out" != *SECRET* \
      && $(wc -l <<<"$out") -eq 1 ]]; then
  echo "ok   pubkey of garbage: one line, exit 2, input not echoed"
else echo "FAIL pubkey garbage: rc=$rc '$out'"; fail=1; fi
check genpsk_extra 2 "unexpected argument 'x' after genpsk" genpsk x
[[ $("$FSTUN" genpsk | wc -c) -eq 45 ]] && echo "ok   genpsk" || { echo "FAIL genpsk"; fail=1; }
exit $fail
