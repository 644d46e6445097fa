#include "core/registry.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"

namespace fstun {

std::string TransportConfig::Option(absl::string_view key, absl::string_view fallback) const {
  auto it = options.find(key);
  return it == options.end() ? std::string(fallback) : it->second;
}

TransportRegistry& TransportRegistry::Global() {
  static TransportRegistry* registry = new TransportRegistry();
  return *registry;
}

absl::Status TransportRegistry::Register(std::string name, std::string description,
                                         TransportFactory factory) {
  absl::MutexLock lock(&mu_);
  if (entries_.count(name) > 0) {
    return absl::AlreadyExistsError(absl::StrCat("transport '", name, "' is registered twice"));
  }
  entries_.emplace(std::move(name), Registered{std::move(description), std::move(factory)});
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Transport>> TransportRegistry::Create(
    absl::string_view name, const TransportConfig& config) const {
  TransportFactory factory;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::vector<std::string> known;
      for (const auto& [n, unused] : entries_) known.push_back(n);
      return absl::NotFoundError(
          absl::StrCat("unknown transport '", name, "'; known: ", absl::StrJoin(known, ", ")));
    }
    factory = it->second.factory;
  }
  return factory(config);
}

std::vector<TransportRegistry::Entry> TransportRegistry::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<Entry> out;
  for (const auto& [name, r] : entries_) out.push_back({name, r.description});
  return out;
}

TransportRegistration::TransportRegistration(std::string name, std::string description,
                                             TransportFactory factory) {
  absl::Status s = TransportRegistry::Global().Register(std::move(name), std::move(description),
                                                        std::move(factory));
  CHECK(s.ok()) << s;
}

}  // namespace fstun
