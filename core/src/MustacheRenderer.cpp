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

/** A string for the layout; "" must be false, since kainjow treats an empty string as true. */
static data text(std::string_view value) { return value.empty() ? data(false) : data(std::string(value)); }

std::string MustacheRenderer::renderData(std::string_view templateName, const data& values) const {
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
  compiled.render(values, [&output](const std::string& piece) { output += piece; });
  if (!compiled.error_message().empty()) {
    throw std::runtime_error("template " + key.second + ": " + compiled.error_message());
  }
  return output;
}

std::string MustacheRenderer::render(std::string_view templateName, const nlohmann::json& values) const {
  return renderData(templateName, toData(values));
}

void MustacheRenderer::page(const Request& request, Response& response,
                            std::string_view templateName, const nlohmann::json& values,
                            std::string_view title) const {
  // The layout's data is built directly for kainjow: it is the same on every page, and going
  // through JSON first cost about a fifth of a signed-in page's CPU.
  data layout{data::type::object};
  layout.set("title", text(title));
  layout.set("serviceName", text(settings_.serviceName));
  layout.set("organisationName", text(settings_.organisationName));
  layout.set("phase", text(settings_.phase));
  layout.set("staticVersion", text(settings_.staticVersion));
  layout.set("csrfToken", text(request.csrfToken));
  layout.set("content", data(render(templateName, values)));
  data nav{data::type::list};
  if (request.user) {
    data user{data::type::object};
    user.set("displayName", text(request.user->displayName));
    user.set("username", text(request.user->username));
    layout.set("user", user);
    for (const auto& [plugin, item] : registry_.navigation()) {
      if (item.permission != kSignedIn && !request.user->can(item.permission)) continue;
      const bool current = request.path == item.href ||
                           (item.href != "/" && request.path.starts_with(item.href + "/"));
      data entry{data::type::object};
      entry.set("label", text(item.label));
      entry.set("href", text(item.href));
      entry.set("current", data(current));
      nav.push_back(entry);
    }
  }
  layout.set("nav", nav);
  data flash{data::type::list};
  for (const auto& message : request.flash) {
    data entry{data::type::object};
    entry.set("kind", text(message.kind));
    entry.set("text", text(message.text));
    flash.push_back(entry);
  }
  layout.set("flash", flash);
  response.contentType = "text/html; charset=utf-8";
  response.body = renderData("core/layout", layout);
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
