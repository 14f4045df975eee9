// What every member of staff can do: find networks, read a network's page, join with consent,
// leave, see "My networks", and download or erase what the plugin holds about them.

#include "NetworksContext.hpp"

#include <algorithm>
#include <cctype>

namespace networks {
namespace {

using belonging::kSignedIn;
using belonging::Request;
using belonging::Response;

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool matches(const Network& network, const std::string& query) {
  if (query.empty()) return true;
  const std::string wanted = lower(query);
  for (const std::string* field : {&network.name, &network.summary, &network.purpose, &network.whoFor}) {
    if (lower(*field).find(wanted) != std::string::npos) return true;
  }
  return false;
}

std::string kindText(const std::string& kind) { return kind == "ally" ? "ally" : "member"; }

/** The join page, with the consent statement (templates/consent.mustache). */
void joinPage(NetworksContext& context, const Request& request, Response& response, const Network& network,
              nlohmann::json extra) {
  nlohmann::json data = networkData(network);
  data["csrfToken"] = request.csrfToken;
  data["consentVersion"] = kConsentVersion;
  data["errors"] = nlohmann::json::array();
  data["kindMember"] = request.formValue("kind") != "ally";
  data["kindAlly"] = request.formValue("kind") == "ally";
  data["visibleChecked"] = request.formValue("visible") == "yes";
  data.update(extra);
  context.formPage(request, response, "networks/join", data, "Join " + network.name);
}

void minePage(NetworksContext& context, const Request& request, Response& response, nlohmann::json extra) {
  const auto all = context.store.networks(true);
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& membership : context.store.membershipsOf(request.user->userId)) {
    for (const auto& network : all) {
      if (network.id != membership.networkId) continue;
      auto row = networkData(network);
      row["kind"] = membership.kind == "ally" ? "Ally" : "Member";
      row["visible"] = membership.visible;
      row["joined"] = longDate(dateOf(membership.consentedAt));
      rows.push_back(row);
    }
  }
  nlohmann::json data{{"memberships", rows}, {"hasMemberships", !rows.empty()}, {"csrfToken", request.csrfToken}};
  data.update(extra);
  context.formPage(request, response, "networks/mine", data, "My networks");
}

} // namespace

void registerStaffRoutes(NetworksContext& context) {
  // Literal paths come before /networks/{slug}: the router takes the first match.
  addRoute(context, "GET", "/networks", kSignedIn, [&context](const Request& request, Response& response) {
    const std::string query = request.queryValue("q").substr(0, 100);
    const std::string visibility = request.queryValue("visibility");
    const bool alliesOnly = request.queryValue("allies") == "yes";
    const auto figures = context.figures();
    std::map<std::int64_t, std::string> mine;
    for (const auto& membership : context.store.membershipsOf(request.user->userId)) mine[membership.networkId] = membership.kind;
    nlohmann::json cards = nlohmann::json::array();
    int total = 0;
    for (const auto& network : context.store.networks(false)) {
      ++total;
      if (!matches(network, query)) continue;
      if ((visibility == "open" || visibility == "confidential") && network.visibility != visibility) continue;
      if (alliesOnly && !network.alliesWelcome) continue;
      auto card = networkData(network);
      const auto cell = figures.cells.contains(network.name) ? figures.cells[network.name]["Total"] : nlohmann::json();
      card["figure"] = context.figureHtml(cell);
      if (auto found = mine.find(network.id); found != mine.end()) card["yours"] = found->second == "ally" ? "You are an ally" : "You are a member";
      cards.push_back(card);
    }
    nlohmann::json data{{"networks", cards},
                        {"shown", cards.size()},
                        {"total", total},
                        {"filtered", !query.empty() || alliesOnly || !visibility.empty()},
                        {"query", query},
                        {"alliesOnly", alliesOnly},
                        {"visibilityOpen", visibility == "open"},
                        {"visibilityConfidential", visibility == "confidential"},
                        {"visibilityAny", visibility != "open" && visibility != "confidential"},
                        {"threshold", context.host.disclosure().policy().threshold},
                        {"publishedOn", longDate(figures.publishedOn)}};
    context.host.renderer().page(request, response, "networks/directory", data, "Staff networks");
  });

  addRoute(context, "GET", "/networks/mine", kSignedIn, [&context](const Request& request, Response& response) {
    minePage(context, request, response, nlohmann::json::object());
  });

  // Subject access for this plugin alone; /account/data has every plugin's.
  addRoute(context, "GET", "/networks/mine/data", kSignedIn, [&context](const Request& request, Response& response) {
    const nlohmann::json data{{"exported_on", NetworksContext::today()},
                              {"networks", context.exportUserData(request.user->userId)}};
    response.attachment("my-network-data.json", "application/json", belonging::jsonText(data, 2));
  });

  addRoute(context, "POST", "/networks/mine/erase", kSignedIn, [&context](const Request& request, Response& response) {
    if (request.formValue("confirm") != "yes") {
      response.status = 400;
      return minePage(context, request, response,
                      formErrors({{"confirm", "Confirm that you want to leave every network and erase your network data"}}));
    }
    context.store.eraseUser(request.user->userId);
    response.flash.push_back({"success", "You have left every staff network and your network data has been erased."});
    response.redirect("/networks/mine");
  });

  addRoute(context, "GET", "/networks/{slug}", kSignedIn, [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    auto data = networkData(network);
    data.update(context.leaders(network));
    const auto figures = context.figures();
    const auto cell = figures.cells.contains(network.name) ? figures.cells[network.name]["Total"] : nlohmann::json();
    data["figure"] = context.figureHtml(cell);
    data["publishedOn"] = longDate(figures.publishedOn);
    data["threshold"] = context.host.disclosure().policy().threshold;
    data["csrfToken"] = request.csrfToken;
    if (const auto membership = context.store.membership(network.id, request.user->userId)) {
      data["membership"] = {{"kind", kindText(membership->kind)}, {"article", membership->kind == "ally" ? "an" : "a"}, {"visible", membership->visible}};
    }
    nlohmann::json events = nlohmann::json::array(), announcements = nlohmann::json::array();
    for (const auto& post : context.store.posts(network.id, NetworksContext::today(), 20)) {
      (post.kind == "event" ? events : announcements).push_back(postData(post));
    }
    data["events"] = events;
    data["announcements"] = announcements;
    data["leads"] = NetworksContext::leads(request, network);
    data["seesMembers"] = context.memberView(request, network) != MemberView::None;
    data["canManage"] = request.can("networks.manage");
    data["canJoin"] = !network.archived;
    context.host.renderer().page(request, response, "networks/network", data, network.name);
  });

  addRoute(context, "GET", "/networks/{slug}/join", kSignedIn, [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    if (network.archived) throw NetworkError(409, network.name + " is archived and is not taking new members");
    joinPage(context, request, response, network, nlohmann::json::object());
  });

  addRoute(context, "POST", "/networks/{slug}/join", kSignedIn, [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    const std::string kind = request.formValue("kind");
    try {
      const bool joined = context.join(request, network, kind, request.formValue("consent_version"),
                                       request.formValue("visible") == "yes");
      response.flash.push_back({"success", joined ? "You have joined " + network.name + " as " +
                                                        (kind == "ally" ? "an ally." : "a member.")
                                                  : "You were already in " + network.name +
                                                        "; your choices have been updated."});
      response.redirect("/networks/mine");
    } catch (const NetworkError& error) {
      if (network.archived) throw;
      response.status = error.status();
      const bool kindWrong = kind != "member" && (kind != "ally" || !network.alliesWelcome);
      joinPage(context, request, response, network, formErrors({{kindWrong ? "kind" : "consent", error.what()}}));
    }
  });

  addRoute(context, "POST", "/networks/{slug}/leave", kSignedIn, [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    const bool left = context.store.leave(network.id, request.user->userId);
    response.flash.push_back({left ? "success" : "info",
                              left ? "You have left " + network.name + ". Your membership has been deleted."
                                   : "You were not in " + network.name + "."});
    response.redirect(returnPath(request, "/networks/mine"));
  });

  addRoute(context, "GET", "/networks/{slug}/members", "networks.members",
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    const MemberView view = context.requireMemberView(request, network);
    const bool leads = view == MemberView::All;
    auto data = networkData(network);
    data["members"] = context.memberRows(network, view);
    data["hasMembers"] = !data["members"].empty();
    data["leads"] = leads;
    data["csrfToken"] = request.csrfToken;
    data["visibleOnly"] = view == MemberView::VisibleOnly;
    context.host.renderer().page(request, response, "networks/members", data, "Members of " + network.name);
  });
}

} // namespace networks
