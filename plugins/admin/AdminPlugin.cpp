// Administration pages. The audit log is readable by admins; note what admins do NOT get
// here: no anonymous submissions and no way round disclosure control (DESIGN §4).

#include <belonging/Plugin.hpp>

#include <ctime>

extern const belonging::EmbeddedFile adminTemplates[];

namespace {

constexpr int kPageSize = 50;

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
      int page = 1;
      try {
        page = std::max(1, std::stoi(request.queryValue("page").empty() ? "1" : request.queryValue("page")));
      } catch (const std::exception&) {
        page = 1;
      }
      // One extra row tells whether a next page exists without a COUNT(*).
      auto entries = host.audit().recent(kPageSize + 1, (page - 1) * kPageSize);
      const bool hasNext = entries.size() > static_cast<std::size_t>(kPageSize);
      if (hasNext) entries.pop_back();
      nlohmann::json rows = nlohmann::json::array();
      for (const auto& entry : entries) {
        rows.push_back({{"time", formatTime(entry.at)}, {"actor", entry.actor}, {"action", entry.action},
                        {"target", entry.target}, {"detail", entry.detail}, {"requestId", entry.requestId}});
      }
      nlohmann::json data{{"entries", rows}, {"empty", rows.empty()}, {"page", page}};
      if (page > 1) data["previousHref"] = "/admin/audit?page=" + std::to_string(page - 1);
      if (hasNext) data["nextHref"] = "/admin/audit?page=" + std::to_string(page + 1);
      host.renderer().page(request, response, "admin/audit", data, "Audit log");
    }});
    // Stores no personal data of its own: the audit log belongs to the core.
    registrar.setPrivacyManifest({});
  }
};

} // namespace

BELONGING_PLUGIN(AdminPlugin, "admin", "0.1.0")
