#pragma once
// Writing a plugin:
//
//   #include <belonging/Plugin.hpp>
//   class Hello final : public belonging::Plugin {
//   public:
//     void load(belonging::Host& host) override {
//       host.registrar().addRoute({"GET", "/hello", belonging::kSignedIn, false, false,
//                                  [](const auto&, auto& res) { res.body = "hi"; }});
//       host.registrar().setPrivacyManifest({});
//     }
//   };
//   BELONGING_PLUGIN(Hello, "hello", "1.0.0")
//
// Build it with belonging_add_plugin() from the installed CMake package (see README).

#include <belonging/Host.hpp>
#include <belonging/PluginAbi.h>

#include <cstdio>
#include <exception>
#include <memory>

namespace belonging {

/** Base class of a plugin's main object; one instance lives from load to unload. */
class Plugin {
public:
  virtual ~Plugin() = default;
  /** Register everything through host.registrar(); keep `host` for use in handlers. */
  virtual void load(Host& host) = 0;
  /** Release resources acquired in load. Must not throw. */
  virtual void unload() noexcept {}
};

namespace detail {
/** Runs a plugin's load, turning any exception into an error code and message for the C ABI. */
template <typename PluginType>
int loadPlugin(std::unique_ptr<Plugin>& instance, belonging_host* host, char* error,
               size_t errorSize) noexcept {
  try {
    instance = std::make_unique<PluginType>();
    instance->load(*reinterpret_cast<Host*>(host));
    return 0;
  } catch (const std::exception& failure) {
    std::snprintf(error, errorSize, "%s", failure.what());
  } catch (...) {
    std::snprintf(error, errorSize, "unknown exception during load");
  }
  instance.reset();
  return 1;
}
} // namespace detail

} // namespace belonging

// A plugin linked statically (unit tests) needs a unique entry name: CMake defines
// BELONGING_PLUGIN_STATIC_ENTRY=belonging_plugin_entry_<name> for such builds.
#ifdef BELONGING_PLUGIN_STATIC_ENTRY
#define BELONGING_PLUGIN_ENTRY_NAME BELONGING_PLUGIN_STATIC_ENTRY
#else
#define BELONGING_PLUGIN_ENTRY_NAME belonging_plugin_entry
#endif

/** Defines the plugin's exported entry point for PluginType, with its name and version. */
#define BELONGING_PLUGIN(PluginType, pluginName, pluginVersion)                                    \
  BELONGING_PLUGIN_WITH_DEPENDENCIES(PluginType, pluginName, pluginVersion, "")

/** As BELONGING_PLUGIN, for a plugin that needs others ("a,b") loaded before it. */
#define BELONGING_PLUGIN_WITH_DEPENDENCIES(PluginType, pluginName, pluginVersion, dependencyList)  \
  namespace {                                                                                      \
  std::unique_ptr<belonging::Plugin> belongingPluginInstance;                                      \
  int belongingPluginLoad(belonging_host* host, char* error, size_t errorSize) {                   \
    return belonging::detail::loadPlugin<PluginType>(belongingPluginInstance, host, error,         \
                                                     errorSize);                                   \
  }                                                                                                \
  void belongingPluginUnload() {                                                                   \
    if (belongingPluginInstance) belongingPluginInstance->unload();                                \
    belongingPluginInstance.reset();                                                               \
  }                                                                                                \
  const belonging_plugin_descriptor belongingPluginDescriptor = {                                  \
      BELONGING_ABI_VERSION,    sizeof(belonging_plugin_descriptor),                               \
      pluginName,               pluginVersion,                                                     \
      BELONGING_BUILD_SIGNATURE, &belongingPluginLoad,                                             \
      &belongingPluginUnload,   dependencyList};                                                   \
  }                                                                                                \
  extern "C" __attribute__((visibility("default"))) const belonging_plugin_descriptor*             \
  BELONGING_PLUGIN_ENTRY_NAME(void) {                                                                   \
    return &belongingPluginDescriptor;                                                             \
  }

