#include "netconfig/nat.h"

#include <nftables/libnftables.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace fstun {

std::string NftTableName(absl::string_view ifname) {
  std::string name = "fstun_";
  for (char c : ifname) name += absl::ascii_isalnum(c) ? c : '_';
  return name;
}

std::string NatRuleset(const NatConfig& c) {
  const std::string table = NftTableName(c.ifname);
  const std::string dev = absl::StrCat("\"", c.ifname, "\"");
  bool v4 = false, v6 = false;
  for (const IpPrefix& p : c.tunnel_prefixes) (p.address.is_v4() ? v4 : v6) = true;

  // "add" then "delete" makes the delete succeed whether or not a table was
  // left behind; the whole script is one transaction.
  std::string s = absl::StrCat("add table inet ", table, "\ndelete table inet ", table, "\n");
  absl::StrAppend(&s, "table inet ", table, " {\n  chain forward {\n",
                  "    type filter hook forward priority filter; policy accept;\n");
  for (int family : {4, 6}) {
    if ((family == 4 && !v4) || (family == 6 && !v6)) continue;
    size_t overhead = family == 4 ? 40 : 60;
    if (c.mtu <= overhead) continue;
    size_t mss = c.mtu - overhead;
    for (absl::string_view dir : {"iifname", "oifname"}) {
      absl::StrAppend(&s, "    ", dir, " ", dev, " meta nfproto ipv", family,
                      " tcp flags syn / syn,rst tcp option maxseg size > ", mss,
                      " counter tcp option maxseg size set ", mss, "\n");
    }
  }
  absl::StrAppend(&s, "    iifname ", dev, " counter accept\n", "    oifname ", dev,
                  " ct state established,related counter accept\n  }\n");
  absl::StrAppend(&s, "  chain postrouting {\n",
                  "    type nat hook postrouting priority srcnat; policy accept;\n");
  for (const IpPrefix& p : c.tunnel_prefixes) {
    absl::StrAppend(&s, "    oifname != ", dev, p.address.is_v4() ? " ip" : " ip6", " saddr ",
                    p.Network().ToString(), " counter masquerade\n");
  }
  absl::StrAppend(&s, "  }\n}\n");
  return s;
}

absl::StatusOr<std::string> RunNft(absl::string_view commands) {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) {
    return absl::UnavailableError("nftables is unavailable: libnftables could not start");
  }
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  std::string buffer(commands);
  int rc = nft_run_cmd_from_buffer(ctx, buffer.c_str());
  std::string output = nft_ctx_get_output_buffer(ctx);
  std::string error(absl::StripAsciiWhitespace(nft_ctx_get_error_buffer(ctx)));
  nft_ctx_free(ctx);
  if (rc == 0) return output;

  // nft prints the failing command under the message; keep the first line.
  std::string first = error.substr(0, error.find('\n'));
  if (absl::StrContains(error, "Operation not permitted")) {
    return absl::PermissionDeniedError(
        absl::StrCat("nftables: permission denied (fstun needs root / CAP_NET_ADMIN): ", first));
  }
  if (absl::StrContains(error, "Protocol not supported") ||
      absl::StrContains(error, "Operation not supported") ||
      (absl::StrContains(error, "No such file or directory") &&
       absl::StrContains(error, "cache"))) {
    return absl::UnavailableError(absl::StrCat(
        "nftables is unavailable (kernel without nf_tables / nft_nat / nft_masq?): ", first));
  }
  return absl::InternalError(absl::StrCat("nftables: ", first.empty() ? "command failed" : first));
}

absl::Status InstallNat(const NatConfig& config, StateFile& journal) {
  NftTableChange table{"inet", NftTableName(config.ifname)};
  absl::Status recorded = journal.Record(table);
  if (!recorded.ok()) return recorded;
  absl::StatusOr<std::string> out = RunNft(NatRuleset(config));
  return out.status();
}

absl::StatusOr<bool> NftTableExists(const NftTableChange& table) {
  absl::StatusOr<std::string> out = RunNft(absl::StrCat("list tables ", table.family));
  if (!out.ok()) return out.status();
  return absl::StrContains(absl::StrCat(*out, "\n"),
                           absl::StrCat("table ", table.family, " ", table.name, "\n"));
}

absl::Status DeleteNftTable(const NftTableChange& table) {
  // The names go into an nft script: only the tables fstun creates.
  if (absl::Status valid = ValidateChange(table); !valid.ok()) return valid;
  // The same add-then-delete pair: succeeds whether or not the table exists.
  absl::StatusOr<std::string> out =
      RunNft(absl::StrCat("add table ", table.family, " ", table.name, "\ndelete table ",
                          table.family, " ", table.name, "\n"));
  return out.status();
}

}  // namespace fstun
