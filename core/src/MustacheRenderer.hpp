#pragma once
// Renders registered Mustache templates inside the shared NHS.UK layout. kainjow's render()
// mutates the template object, so each thread keeps its own parsed copies, parsed once.

#include "Registry.hpp"

#include <belonging/Host.hpp>

#include <kainjow/mustache.hpp>

#include <atomic>
#include <string>

namespace belonging {

/** What the layout shows on every page. */
struct LayoutSettings {
  std::string serviceName = "Belonging";
  std::string organisationName;
  std::string phase = "beta";
  std::string staticVersion = "1";
};

class MustacheRenderer final : public Renderer {
public:
  MustacheRenderer(const Registry& registry, LayoutSettings settings);

  std::string render(std::string_view templateName, const nlohmann::json& data) const override;
  void page(const Request& request, Response& response, std::string_view templateName,
            const nlohmann::json& data, std::string_view title) const override;
  void errorPage(const Request& request, Response& response, int status, std::string_view heading,
                 std::string_view message) const override;
  /** Parses every registered template; throws naming the first that does not parse. */
  void validate() const;
  const LayoutSettings& settings() const { return settings_; }

private:
  std::string renderData(std::string_view templateName, const kainjow::mustache::data& values) const;

  const Registry& registry_;
  LayoutSettings settings_;
  std::uint64_t instance_; ///< Keys the per-thread cache, so two renderers never share entries.
  static std::atomic<std::uint64_t> nextInstance_;
};

} // namespace belonging
