#include "PluginLoader.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <set>

namespace belonging {
namespace {

std::string abiText(std::uint32_t version) {
  return std::to_string(version >> 16) + "." + std::to_string(version & 0xffff);
}

std::vector<std::string> splitList(const char* text) {
  std::vector<std::string> items;
  std::string current;
  for (const char* c = text ? text : ""; ; ++c) {
    if (*c == ',' || *c == '\0') {
      const auto first = current.find_first_not_of(' ');
      if (first != std::string::npos) items.push_back(current.substr(first, current.find_last_not_of(' ') - first + 1));
      current.clear();
      if (*c == '\0') break;
    } else {
      current += *c;
    }
  }
  return items;
}

// The smallest descriptor this host understands: ABI 1.0 ends with `dependencies`.
constexpr std::size_t kMinimumDescriptorSize =
    offsetof(belonging_plugin_descriptor, dependencies) + sizeof(const char*);

} // namespace

PluginLoader::~PluginLoader() { unloadAll(); }

std::filesystem::path PluginLoader::defaultDirectory() {
  // In a build tree plugins sit beside the binary; once installed, under the library dir.
  std::error_code error;
  const auto executable = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "plugins";
  const auto beside = executable.parent_path() / "plugins";
  if (std::filesystem::is_directory(beside)) return beside;
  return executable.parent_path().parent_path() / BELONGING_INSTALLED_PLUGIN_DIR;
}

const belonging_plugin_descriptor* PluginLoader::open(const std::string& name,
                                                      const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) {
    throw PluginError("plugin \"" + name + "\" is not installed: there is no " + file.string());
  }
  // RTLD_LOCAL keeps plugins' own symbols apart; RTLD_NOW reports a missing symbol here, at
  // start-up, rather than as a crash on the first request that needs it.
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw PluginError("plugin \"" + name + "\" cannot be opened: " + dlerror());
  auto entry = reinterpret_cast<belonging_plugin_entry_fn>(dlsym(handle, BELONGING_PLUGIN_ENTRY_SYMBOL));
  if (!entry) {
    throw PluginError("plugin \"" + name + "\" (" + file.string() + ") exports no " +
                      BELONGING_PLUGIN_ENTRY_SYMBOL + "(): it is not a Belonging plugin");
  }
  return entry();
}

void PluginLoader::check(const std::string& name, const belonging_plugin_descriptor* descriptor) const {
  if (!descriptor) throw PluginError("plugin \"" + name + "\" returned no descriptor");
  const std::string host = abiText(BELONGING_ABI_VERSION);
  const std::string plugin = abiText(descriptor->abi_version);
  const std::string version = descriptor->version ? descriptor->version : "?";
  if ((descriptor->abi_version >> 16) != BELONGING_ABI_MAJOR ||
      (descriptor->abi_version & 0xffff) > BELONGING_ABI_MINOR) {
    throw PluginError("plugin \"" + name + "\" " + version + " was built for plugin ABI " + plugin +
                      "; this host supports ABI " + host + " (same major, minor up to " +
                      std::to_string(BELONGING_ABI_MINOR) + "): rebuild it against this SDK");
  }
  if (descriptor->struct_size < kMinimumDescriptorSize) {
    throw PluginError("plugin \"" + name + "\" " + version + " has a descriptor of " +
                      std::to_string(descriptor->struct_size) + " bytes; ABI " + host +
                      " needs at least " + std::to_string(kMinimumDescriptorSize));
  }
  const std::string signature = descriptor->build_signature ? descriptor->build_signature : "";
  if (signature != BELONGING_BUILD_SIGNATURE) {
    throw PluginError("plugin \"" + name + "\" " + version + " was built as \"" + signature +
                      "\" but this host (ABI " + host + ") was built as \"" +
                      BELONGING_BUILD_SIGNATURE + "\": rebuild it with the same compiler and SDK");
  }
  if (!descriptor->name || name != descriptor->name) {
    throw PluginError("the file for plugin \"" + name + "\" says it is plugin \"" +
                      std::string(descriptor->name ? descriptor->name : "") + "\"");
  }
  if (!descriptor->load) throw PluginError("plugin \"" + name + "\" has no load callback");
}

void PluginLoader::fail(const Candidate& candidate, const std::string& why) {
  registry_.removePlugin(candidate.name);
  PluginStatus status{candidate.name,
                      candidate.descriptor && candidate.descriptor->version ? candidate.descriptor->version : "",
                      candidate.descriptor ? abiText(candidate.descriptor->abi_version) : "",
                      "failed: " + why, candidate.required};
  statuses_.push_back(status);
  if (candidate.required) throw PluginError(why);
  logger_.warning("skipping optional plugin: " + why);
}

void PluginLoader::applySettings(const std::string& name, PluginHost& host,
                                 const PluginsConfig& config) const {
  nlohmann::json merged = nlohmann::json::object();
  const auto registered = registry_.settings().find(name);
  if (registered != registry_.settings().end()) {
    for (const Setting& setting : registered->second) merged[setting.key] = setting.defaultValue;
  }
  if (const auto section = config.sections.find(name); section != config.sections.end()) {
    for (const auto& [key, value] : section->second.values.items()) {
      const auto line = section->second.lines.count(key) ? section->second.lines.at(key) : 0;
      const std::string where =
          config.sourceFile + ":" + std::to_string(line) + ": plugins." + name + "." + key;
      if (!merged.contains(key)) throw ConfigError(where + " is not a setting of plugin \"" + name + "\"");
      const auto& expected = merged[key];
      const bool sameType = expected.type() == value.type() ||
                            (expected.is_number() && value.is_number());
      if (!sameType) {
        throw ConfigError(where + " must be a " + std::string(expected.type_name()) + ", like " +
                          expected.dump());
      }
      merged[key] = value;
    }
  }
  host.setSettings(std::move(merged));
}

void PluginLoader::load(const Candidate& candidate, const PluginsConfig& config) {
  auto host = std::make_unique<PluginHost>(registry_, services_, candidate.name);
  char error[1024] = {};
  const int result = candidate.descriptor->load(reinterpret_cast<belonging_host*>(static_cast<Host*>(host.get())),
                                                error, sizeof(error));
  host->closeRegistrar();
  if (result != 0) {
    return fail(candidate, "plugin \"" + candidate.name + "\" failed to load: " + error);
  }
  if (!registry_.hasPrivacyManifest(candidate.name)) {
    if (candidate.descriptor->unload) candidate.descriptor->unload();
    return fail(candidate, "plugin \"" + candidate.name +
                               "\" declares no privacy manifest; every plugin must say what "
                               "personal data it keeps (an empty manifest if none)");
  }
  applySettings(candidate.name, *host, config);
  statuses_.push_back({candidate.name, candidate.descriptor->version,
                       abiText(candidate.descriptor->abi_version), "loaded", candidate.required});
  loaded_.emplace_back(candidate.descriptor, std::move(host));
}

void PluginLoader::loadAll(const PluginsConfig& config) {
  const std::filesystem::path directory =
      config.directory.empty() ? defaultDirectory() : config.directory;
  std::map<std::string, Candidate> candidates;
  std::vector<std::string> order;
  for (const std::string& name : config.enabled) {
    Candidate candidate;
    candidate.name = name;
    candidate.required = std::find(config.required.begin(), config.required.end(), name) != config.required.end();
    candidate.file = (directory / (name + ".so")).string();
    try {
      candidate.descriptor = open(name, candidate.file);
      check(name, candidate.descriptor);
    } catch (const PluginError& error) {
      fail(candidate, error.what());
      continue;
    }
    candidate.dependencies = splitList(candidate.descriptor->dependencies);
    order.push_back(name);
    candidates[name] = std::move(candidate);
  }

  // Depth-first topological order, keeping the config's order where dependencies allow.
  std::set<std::string> done, visiting;
  std::function<bool(const std::string&)> visit = [&](const std::string& name) {
    if (done.contains(name)) return true;
    const Candidate& candidate = candidates.at(name);
    if (visiting.contains(name)) {
      fail(candidate, "plugin \"" + name + "\" is part of a dependency cycle");
      return false;
    }
    visiting.insert(name);
    for (const std::string& dependency : candidate.dependencies) {
      const bool available = candidates.contains(dependency) && visit(dependency) &&
                             std::any_of(loaded_.begin(), loaded_.end(), [&](const auto& entry) {
                               return dependency == entry.first->name;
                             });
      if (!available) {
        visiting.erase(name);
        done.insert(name);
        fail(candidate, "plugin \"" + name + "\" needs plugin \"" + dependency +
                            "\", which is not enabled or did not load");
        return false;
      }
    }
    visiting.erase(name);
    done.insert(name);
    load(candidate, config);
    return true;
  };
  for (const std::string& name : order) visit(name);
}

void PluginLoader::loadStatic(belonging_plugin_entry_fn entry, const PluginsConfig& config) {
  Candidate candidate;
  candidate.descriptor = entry();
  candidate.name = candidate.descriptor && candidate.descriptor->name ? candidate.descriptor->name : "";
  candidate.required = true;
  check(candidate.name, candidate.descriptor);
  load(candidate, config);
}

void PluginLoader::unloadAll() {
  for (auto it = loaded_.rbegin(); it != loaded_.rend(); ++it) {
    if (it->first->unload) it->first->unload();
  }
  loaded_.clear();
}

} // namespace belonging
