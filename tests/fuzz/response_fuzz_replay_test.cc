// Runs the fuzz entry point (response_fuzzer.cc) under ctest with any
// compiler: every seed in tests/fuzz/corpus/, a few thousand deterministic
// mutations of them, and pathological inputs. Under the sanitizer build this
// is a short ASan/UBSan fuzz run.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void Feed(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
}

std::vector<std::string> LoadCorpus() {
  std::vector<std::string> seeds;
  for (const auto& entry :
       std::filesystem::directory_iterator(WXVAULT_FUZZ_CORPUS_DIR)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    seeds.push_back(buffer.str());
  }
  return seeds;
}

std::string Mutate(std::string s, std::mt19937& rng) {
  static const char* const kTokens[] = {
      "\\u", "\\ud83d", "\\ude00", "\\", "\"", "{", "}", "[", "]", ",", ":",
      "\x01", "\xF0\x9F", "\xFF", "-0", "1e999", "errcode", "null", "\\/"};
  std::uniform_int_distribution<int> op_dist(0, 5);
  int ops = 1 + static_cast<int>(rng() % 8);
  for (int i = 0; i < ops; ++i) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (op_dist(rng)) {
      case 0:
        if (!s.empty()) s[pos % s.size()] ^= static_cast<char>(1 << (rng() % 8));
        break;
      case 1:
        s.insert(pos, 1, static_cast<char>(rng() % 256));
        break;
      case 2:
        s.insert(pos, kTokens[rng() % std::size(kTokens)]);
        break;
      case 3:
        if (!s.empty()) s.erase(pos % s.size(), 1 + rng() % 8);
        break;
      case 4:
        if (!s.empty()) {
          size_t from = rng() % s.size();
          s.insert(pos, s.substr(from, 1 + rng() % 16));
        }
        break;
      case 5:
        s.resize(pos);
        break;
    }
  }
  return s;
}

TEST(ResponseFuzzReplayTest, SeedCorpus) {
  std::vector<std::string> seeds = LoadCorpus();
  ASSERT_GE(seeds.size(), 8u);
  for (const std::string& seed : seeds) Feed(seed);
}

TEST(ResponseFuzzReplayTest, MutatedSeeds) {
  std::vector<std::string> seeds = LoadCorpus();
  ASSERT_FALSE(seeds.empty());
  std::mt19937 rng(20250615);
  for (int i = 0; i < 5000; ++i) {
    std::string input = Mutate(seeds[rng() % seeds.size()], rng);
    if (i % 4 == 0) input = Mutate(input, rng);
    Feed(input);
  }
}

TEST(ResponseFuzzReplayTest, PathologicalInputs) {
  Feed(std::string(200000, '['));
  Feed(std::string(200000, '{'));
  Feed("[" + std::string(100000, '1') + "]");
  Feed("\"" + std::string(300000, '\x01') + "\"");
  Feed(std::string((1 << 20) + 1, ' '));
  std::string surrogates = "\"";
  for (int i = 0; i < 20000; ++i) surrogates += "\\ud83d";
  Feed(surrogates + "\"");
  std::string wide = "{";
  for (int i = 0; i < 20000; ++i) wide += "\"k" + std::to_string(i) + "\":1,";
  Feed(wide + "\"end\":0}");
}

}  // namespace
