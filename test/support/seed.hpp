// Seeds for randomized tests. A test takes its seed from MPS_TEST_SEED if set,
// otherwise from the given default, and prints it so any failure reruns
// exactly: MPS_TEST_SEED=<seed> ./test --gtest_filter=<name>.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace mps::test {

inline std::uint64_t testSeed(std::uint64_t fallback) {
  std::uint64_t seed = fallback;
  if (const char* env = std::getenv("MPS_TEST_SEED")) seed = std::strtoull(env, nullptr, 0);
  std::printf("[ seed     ] %llu (rerun with MPS_TEST_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

// A small fast PRNG (splitmix64): reproducible across platforms, unlike
// std::uniform_int_distribution.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  // Uniform in [lo, hi].
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }

 private:
  std::uint64_t state_;
};

}  // namespace mps::test
