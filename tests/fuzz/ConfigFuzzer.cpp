// Fuzzes configuration loading (core/src/Config.cpp) with TOML text. Whatever the file holds,
// loading either gives a configuration that keeps the promises the rest of the code relies on
// (above all: no setting turns disclosure control off) or throws ConfigError naming the file;
// any other exception or a crash is a bug.

#include "Config.hpp"
#include "FuzzSupport.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

using belonging::fuzz::check;

namespace {
std::unique_ptr<belonging::fuzz::ScratchDirectory> scratch;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The SSO secret may come from the environment; the fuzzer must not depend on it.
  unsetenv("BELONGING_SSO_SECRET");
  scratch = std::make_unique<belonging::fuzz::ScratchDirectory>("belonging-fuzz-config");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Config::load reads a path (relative paths in it resolve against the file's directory).
  const auto path = scratch->write("config/belonging.toml", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    const belonging::Config config = belonging::Config::load(path);
    check(config.disclosure.threshold >= 5, "no setting lowers the disclosure threshold below 5");
    check(config.disclosure.roundTo == 0 || config.disclosure.roundTo == 5 || config.disclosure.roundTo == 10,
          "disclosure.round is 0, 5 or 10");
    check(config.server.port >= 0 && config.server.port <= 65535, "the port is a port");
    check(config.server.threads >= 2, "at least two worker threads");
    check(config.server.maxHeaderBytes >= 1024 && config.server.maxBodyBytes >= 1024, "request limits have floors");
    check(config.database.poolSize >= 1, "a database pool has a connection");
    for (const auto& name : config.plugins.required) {
      check(std::find(config.plugins.enabled.begin(), config.plugins.enabled.end(), name) != config.plugins.enabled.end(),
            "every required plugin is enabled");
    }
    check(!config.sso.enabled || (config.sso.secret.size() >= 16 && !config.sso.trustedProxies.empty()),
          "single sign-on is on only with a secret and trusted proxies");
  } catch (const belonging::ConfigError& error) {
    check(std::string_view(error.what()).starts_with(path.string()), "a configuration error names the file");
  }
  return 0;
}
