// Runs the handshake fuzzer's entry point over its checked-in seed corpus
// and over bounded, deterministic random and mutated inputs (also under
// --config=asan): nothing may crash or read out of bounds. The libFuzzer
// build of the same file explores further (docs/security.md, "Tests").
#include <dirent.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::vector<uint8_t>> Corpus() {
  std::string dir = std::string(getenv("TEST_SRCDIR")) + "/" + getenv("TEST_WORKSPACE") +
                    "/identity/corpus/handshake_fuzzer";
  std::vector<std::vector<uint8_t>> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(dir + "/" + e->d_name, std::ios::binary);
    out.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  closedir(d);
  return out;
}

TEST(HandshakeFuzzTest, SeedCorpusRuns) {
  std::vector<std::vector<uint8_t>> corpus = Corpus();
  ASSERT_GE(corpus.size(), 5u);
  for (const auto& in : corpus) LLVMFuzzerTestOneInput(in.data(), in.size());
}

TEST(HandshakeFuzzTest, RandomAndMutatedInputs) {
  std::vector<std::vector<uint8_t>> corpus = Corpus();
  ASSERT_FALSE(corpus.empty());
  std::mt19937_64 rng(12);
  for (int i = 0; i < 1500; ++i) {
    std::vector<uint8_t> in = corpus[rng() % corpus.size()];
    if (in.empty()) in.push_back(0);
    int flips = 1 + rng() % 8;
    for (int f = 0; f < flips; ++f) in[rng() % in.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    if (i % 5 == 0) in.resize(rng() % 300 + 1);
    in[0] = static_cast<uint8_t>(i % 4);
    LLVMFuzzerTestOneInput(in.data(), in.size());
  }
}

}  // namespace
