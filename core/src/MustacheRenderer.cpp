#include "MustacheRenderer.hpp"

#include <kainjow/mustache.hpp>

#include <map>
#include <memory>
#include <stdexcept>

namespace belonging {
namespace {

using kainjow::mustache::data;
using kainjow::mustache::mustache;

data toData(const nlohmann::json& value) {
  switch (value.type()) {
  case nlohmann::json::value_t::object: {
    data object{data::type::object};
    for (const auto& [key, item] : value.items()) object.set(key, toData(item));
    return object;
  }
  case nlohmann::json::value_t::array: {
    data list{data::type::list};
    for (const auto& item : value) list.push_back(toData(item));
    return list;
  }
  case nlohmann::json::value_t::string:
    // Mustache (kainjow) treats "" as true; templates expect an empty string to hide a section.
    return value.get_ref<const std::string&>().empty() ? data(false)
                                                       : data(value.get_ref<const std::string&>());
  case nlohmann::json::value_t::boolean:
    return data(value.get<bool>());
  case nlohmann::json::value_t::null:
    return data(false);
  default:
    return data(value.dump());
  }
}

} // namespace

std::atomic<std::uint64_t> MustacheRenderer::nextInstance_{1};

MustacheRenderer::MustacheRenderer(const Registry& registry, LayoutSettings settings)
    : registry_(registry), settings_(std::move(settings)), instance_(nextInstance_++) {}

std::string MustacheRenderer::render(std::string_view templateName, const nlohmann::json& data) const {
  thread_local std::map<std::pair<std::uint64_t, std::string>, std::unique_ptr<mustache>, std::less<>> cache;
  const std::pair<std::uint64_t, std::string> key{instance_, std::string(templateName)};
  auto found = cache.find(key);
  if (found == cache.end()) {
    const auto source = registry_.templates().find(key.second);
    if (source == registry_.templates().end()) {
      throw std::runtime_error("no template called \"" + key.second + "\" is registered");
    }
    found = cache.emplace(key, std::make_unique<mustache>(source->second)).first;
  }
  mustache& compiled = *found->second;
  if (!compiled.is_valid()) {
    throw std::runtime_error("template " + key.second + ": " + compiled.error_message());
  }
  // Appending to one reserved string avoids the ostringstream kainjow's render(data) uses.
  std::string output;
  output.reserve(8192);
  compiled.render(toData(data), [&output](const std::string& piece) { output += piece; });
  if (!compiled.error_message().empty()) {
    throw std::runtime_error("template " + key.second + ": " + compiled.error_message());
  }
  return output;
}

void MustacheRenderer::page(const Request& request, Response& response,
                            std::string_view templateName, const nlohmann::json& data,
                            std::string_view title) const {
  nlohmann::json layout{{"title", title},
                        {"serviceName", settings_.serviceName},
                        {"organisationName", settings_.organisationName},
                        {"phase", settings_.phase},
                        {"feedbackHref", ""},
                        {"staticVersion", settings_.staticVersion},
                        {"csrfToken", request.csrfToken},
                        {"content", render(templateName, data)}};
  nlohmann::json nav = nlohmann::json::array();
  if (request.user) {
    layout["user"] = {{"displayName", request.user->displayName},
                      {"username", request.user->username}};
    for (const auto& [plugin, item] : registry_.navigation()) {
      if (item.permission != kSignedIn && !request.user->can(item.permission)) continue;
      const bool current = request.path == item.href ||
                           (item.href != "/" && request.path.starts_with(item.href + "/"));
      nav.push_back({{"label", item.label}, {"href", item.href}, {"current", current}});
    }
  }
  layout["nav"] = std::move(nav);
  nlohmann::json flash = nlohmann::json::array();
  for (const auto& message : request.flash) flash.push_back({{"kind", message.kind}, {"text", message.text}});
  layout["flash"] = std::move(flash);
  response.contentType = "text/html; charset=utf-8";
  response.body = render("core/layout", layout);
}

void MustacheRenderer::errorPage(const Request& request, Response& response, int status,
                                 std::string_view heading, std::string_view message) const {
  response.status = status;
  if (request.wantsJson()) {
    response.jsonError(status, message);
    return;
  }
  page(request, response, "core/error",
       {{"status", status},
        {"heading", heading},
        {"message", message},
        {"requestId", request.requestId},
        {"showSignIn", status == 401 || (status == 403 && !request.user)}},
       heading);
}

void MustacheRenderer::validate() const {
  for (const auto& [name, source] : registry_.templates()) {
    mustache compiled(source);
    if (!compiled.is_valid()) {
      throw std::runtime_error("template " + name + " does not parse: " + compiled.error_message());
    }
  }
}

} // namespace belonging
