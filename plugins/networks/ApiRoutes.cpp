// The JSON API for the intranet (a SharePoint web part, a Teams tab). Same rules as the pages:
// the join, leave and member-list checks are NetworksContext's, and every count comes from the
// same disclosure-controlled release.

#include "NetworksContext.hpp"

namespace networks {
namespace {

using belonging::kSignedIn;
using belonging::Request;
using belonging::Response;

nlohmann::json apiFigure(const nlohmann::json& cell) {
  if (!cell.is_object()) return {{"value", nullptr}, {"status", "not-published"}};
  nlohmann::json figure{{"value", cell["value"]}, {"status", cell["status"]}};
  if (!cell["reason"].get<std::string>().empty()) figure["reason"] = cell["reason"];
  return figure;
}

nlohmann::json apiNetwork(const Network& network, const MembershipFigures& figures) {
  return {{"slug", network.slug},
          {"name", network.name},
          {"summary", network.summary},
          {"visibility", network.visibility},
          {"allies_welcome", network.alliesWelcome},
          {"archived", network.archived},
          {"url", "/networks/" + network.slug},
          {"people", apiFigure(figures.cells.contains(network.name) ? figures.cells[network.name]["Total"] : nlohmann::json())}};
}

nlohmann::json yourMembership(NetworksContext& context, const Network& network, std::int64_t userId) {
  const auto membership = context.store.membership(network.id, userId);
  if (!membership) return nullptr;
  return {{"kind", membership->kind}, {"name_visible_to_members", membership->visible},
          {"consent_version", membership->consentVersion}};
}

nlohmann::json figuresNote(const MembershipFigures& figures, int threshold) {
  return {{"published_on", figures.publishedOn},
          {"threshold", threshold},
          {"note", "Counts of members and allies, each changed by a small, fixed amount of noise (-3 to +3); "
                   "only counts of at least " + std::to_string(threshold) +
                       " people are shown (null: hidden to protect small groups), and figures are published again only once at least " +
                       std::to_string(threshold) + " people have joined or left"}};
}

} // namespace

void registerApiRoutes(NetworksContext& context) {
  addRoute(context, "GET", "/api/v1/networks", kSignedIn, [&context](const Request& request, Response& response) {
    const auto figures = context.figures();
    nlohmann::json list = nlohmann::json::array();
    for (const auto& network : context.store.networks(false)) {
      auto item = apiNetwork(network, figures);
      item["your_membership"] = yourMembership(context, network, request.user->userId);
      list.push_back(item);
    }
    nlohmann::json body{{"networks", list},
                        {"consent_version", kConsentVersion},
                        {"figures", figuresNote(figures, context.host.disclosure().policy().threshold)}};
    // A browser client on the intranet needs the token for its POST and DELETE (X-CSRF-Token).
    if (!request.user->viaToken) body["csrf_token"] = request.csrfToken;
    response.json(body);
  });

  addRoute(context, "GET", "/api/v1/networks/{slug}", kSignedIn, [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    const auto figures = context.figures();
    auto body = apiNetwork(network, figures);
    body["purpose"] = network.purpose;
    body["who_for"] = network.whoFor;
    body["contact_email"] = network.contactEmail;
    body["meeting_pattern"] = network.meetingPattern;
    const auto leaders = context.leaders(network);
    body["chairs"] = nlohmann::json::array();
    for (const auto& chair : leaders["chairs"]) body["chairs"].push_back(chair["name"]);
    body["executive_sponsor"] = leaders["sponsor"].is_null() ? nlohmann::json() : leaders["sponsor"]["name"];
    body["events"] = nlohmann::json::array();
    body["announcements"] = nlohmann::json::array();
    for (const auto& post : context.store.posts(network.id, NetworksContext::today(), 20)) {
      nlohmann::json item{{"title", post.title}, {"body", post.body}, {"posted_on", post.postedOn}};
      if (post.kind == "event") {
        item.update({{"date", post.eventDate}, {"start_time", post.startTime}, {"end_time", post.endTime},
                     {"place", post.place}, {"online_link", post.onlineLink}, {"accessibility", post.accessibility}});
        body["events"].push_back(item);
      } else {
        body["announcements"].push_back(item);
      }
    }
    body["consent"] = {{"version", kConsentVersion}, {"statement_url", "/networks/" + network.slug + "/join"}};
    body["your_membership"] = yourMembership(context, network, request.user->userId);
    body["figures"] = figuresNote(figures, context.host.disclosure().policy().threshold);
    response.json(body);
  });

  addRoute(context, "POST", "/api/v1/networks/{slug}/membership", kSignedIn,
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    const auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (!body.is_object()) {
      throw NetworkError(400, "Send a JSON object: {\"kind\": \"member\" or \"ally\", \"consent_version\": " +
                                  std::to_string(kConsentVersion) + "}");
    }
    const std::string kind = body.value("kind", nlohmann::json()).is_string() ? body["kind"].get<std::string>() : "";
    std::string version;
    if (const auto found = body.find("consent_version"); found != body.end()) {
      if (found->is_number_integer()) version = std::to_string(found->get<std::int64_t>());
      else throw NetworkError(400, "consent_version must be a whole number: the version of the statement you agreed to");
    }
    const auto visible = body.find("name_visible_to_members");
    if (visible != body.end() && !visible->is_boolean()) {
      throw NetworkError(400, "name_visible_to_members must be true or false");
    }
    const bool joined = context.join(request, network, kind, version, visible != body.end() && visible->get<bool>());
    response.json({{"network", network.slug}, {"membership", yourMembership(context, network, request.user->userId)}},
                  joined ? 201 : 200);
  });

  addRoute(context, "DELETE", "/api/v1/networks/{slug}/membership", kSignedIn,
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    const bool left = context.store.leave(network.id, request.user->userId);
    response.json({{"network", network.slug}, {"left", left}, {"membership", nullptr}});
  });

  addRoute(context, "GET", "/api/v1/networks/{slug}/members", "networks.members",
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    // The API gives whole member lists only, so only to the chairs and the sponsor.
    if (context.memberView(request, network) != MemberView::All) {
      context.host.audit().record(request, "networks.members.denied", "network:" + network.slug, "api");
      throw NetworkError(403, "Only the chairs and executive sponsor of " + network.name + " can list its members");
    }
    nlohmann::json members = nlohmann::json::array();
    for (const auto& row : context.memberRows(network, MemberView::All)) {
      members.push_back({{"name", row["name"]}, {"username", row["username"]}, {"kind", row["kind"]},
                         {"joined", row["joined"]}, {"name_visible_to_members", row["visible"]}});
    }
    response.json({{"network", network.slug}, {"members", members}});
  });
}

} // namespace networks
