// Administration pages. The audit log is readable by admins; note what admins do NOT get
// here: no anonymous submissions and no way round disclosure control (DESIGN §4).

#include <belonging/Plugin.hpp>

#include <ctime>
#include <optional>

extern const belonging::EmbeddedFile adminTemplates[];

namespace {

constexpr std::int64_t kPageSize = 50;
/** More pages than any audit log will fill, and few enough that the offset fits an int. */
constexpr std::int64_t kMaxPage = 1'000'000;

/** The page asked for: digits only, 1 to kMaxPage; none given is page 1. */
std::optional<std::int64_t> pageNumber(const std::string& text) {
  if (text.empty()) return 1;
  // Seven digits at most, so the number cannot overflow before it is range-checked.
  if (text.size() > 7 || text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const std::int64_t page = std::stoll(text);
  if (page < 1 || page > kMaxPage) return std::nullopt;
  return page;
}

std::string formatTime(std::int64_t at) {
  const std::time_t seconds = static_cast<std::time_t>(at);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M UTC", &parts);
  return buffer;
}

class AdminPlugin final : public belonging::Plugin {
public:
  void load(belonging::Host& host) override {
    auto& registrar = host.registrar();
    registrar.addTemplates(adminTemplates);
    registrar.addPermission({"admin.audit", "Read the audit log of privileged actions", {"admin"}});
    registrar.addNavigationItem({"Audit log", "/admin/audit", "admin.audit", 900});
    registrar.addHomeCards({"admin.audit", 900, [](const belonging::Request&) {
      return std::vector<belonging::HomeCard>{
          {"Audit log", "Who granted roles, created tokens or exported data, and when.",
           "/admin/audit", "Read the audit log"}};
    }});
    registrar.addRoute({"GET", "/admin/audit", "admin.audit", false, false,
                        [&host](const belonging::Request& request, belonging::Response& response) {
      const auto page = pageNumber(request.queryValue("page"));
      if (!page) {
        return host.renderer().errorPage(request, response, 400, "There is a problem",
                                         "The page number must be a whole number from 1 to " +
                                             std::to_string(kMaxPage) + ".");
      }
      // One extra row tells whether a next page exists without a COUNT(*). The bound on the
      // page keeps the offset within the SDK's int.
      const std::int64_t offset = (*page - 1) * kPageSize;
      auto entries = host.audit().recent(static_cast<int>(kPageSize + 1), static_cast<int>(offset));
      const bool hasNext = entries.size() > static_cast<std::size_t>(kPageSize);
      if (hasNext) entries.pop_back();
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& entry : entries) {
        rows.push_back({{"time", formatTime(entry.at)}, {"actor", entry.actor}, {"action", entry.action},
                        {"target", entry.target}, {"detail", entry.detail}, {"requestId", entry.requestId}});
      }
      nlohmann::json data{{"entries", rows}, {"empty", rows.empty()}, {"page", *page}};
      if (*page > 1) data["previousHref"] = "/admin/audit?page=" + std::to_string(*page - 1);
      if (hasNext && *page < kMaxPage) data["nextHref"] = "/admin/audit?page=" + std::to_string(*page + 1);
      host.renderer().page(request, response, "admin/audit", data, "Audit log");
    }});
    // Stores no personal data of its own: the audit log belongs to the core.
    registrar.setPrivacyManifest({});
  }
};

} // namespace

BELONGING_PLUGIN(AdminPlugin, "admin", "0.1.0")
