#include "NetworksContext.hpp"

#include <algorithm>
#include <ctime>
#include <functional>

namespace networks {
namespace {

std::string formatNow(const char* format) {
  const std::time_t now = std::time(nullptr);
  std::tm parts{};
  gmtime_r(&now, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), format, &parts);
  return buffer;
}

} // namespace

std::string dateOf(std::int64_t at) {
  const std::time_t seconds = static_cast<std::time_t>(at);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d", &parts);
  return buffer;
}

namespace {

nlohmann::json cellOf(const belonging::Figure& figure, const belonging::DisclosurePolicy& policy) {
  auto cell = belonging::templateData(figure, policy);
  cell["value"] = belonging::toJson(figure)["value"];
  cell["reason"] = figure.reason;
  return cell;
}

} // namespace

void addRoute(NetworksContext& context, std::string method, std::string pattern, std::string permission,
              belonging::Handler handler) {
  context.host.registrar().addRoute(
      {std::move(method), std::move(pattern), std::move(permission), false, false,
       [&context, handler = std::move(handler)](const belonging::Request& request, belonging::Response& response) {
         try {
           handler(request, response);
         } catch (const NetworkError& error) {
           const int status = error.status();
           const char* heading = status == 404   ? "Page not found"
                                 : status == 403 ? "You cannot do this"
                                 : status == 409 ? "This cannot be done"
                                                 : "There is a problem";
           context.host.renderer().errorPage(request, response, status, heading, error.what());
         }
       }});
}

std::int64_t idParam(const belonging::Request& request, const std::string& name, const std::string& what) {
  const std::string text = request.param(name);
  std::size_t used = 0;
  try {
    const std::int64_t id = std::stoll(text, &used);
    if (used == text.size() && id > 0) return id;
  } catch (const std::exception&) {
  }
  throw NetworkError(404, "There is no such " + what);
}

std::string returnPath(const belonging::Request& request, const std::string& fallback) {
  const std::string wanted = request.formValue("return");
  // Back to a networks page only; the SDK's rule rejects other sites and header splitting.
  const bool ours = wanted == "/networks" || wanted.starts_with("/networks/") || wanted.starts_with("/networks?");
  return ours ? belonging::safeLocalPath(wanted, fallback) : fallback;
}

nlohmann::json formErrors(const std::vector<std::pair<std::string, std::string>>& fieldMessages) {
  nlohmann::json data{{"errors", nlohmann::json::array()}, {"hasErrors", !fieldMessages.empty()}};
  for (const auto& [field, message] : fieldMessages) {
    data["errors"].push_back({{"href", "#" + field}, {"text", message}});
    if (!data.contains(field + "Error")) data[field + "Error"] = message;
  }
  return data;
}

std::string NetworksContext::today() { return formatNow("%Y-%m-%d"); }
std::string NetworksContext::thisMonth() { return formatNow("%Y-%m"); }

std::string longDate(const std::string& isoDate) {
  std::tm parts{};
  if (isoDate.size() != 10 || !strptime(isoDate.c_str(), "%Y-%m-%d", &parts)) return isoDate;
  const std::time_t at = timegm(&parts); // Normalises and fills in the weekday.
  gmtime_r(&at, &parts);
  char buffer[48];
  std::strftime(buffer, sizeof(buffer), "%A %e %B %Y", &parts);
  std::string text = buffer;
  // %e pads single-digit days with a space: "Tuesday  3 December".
  if (auto doubled = text.find("  "); doubled != std::string::npos) text.erase(doubled, 1);
  return text;
}

nlohmann::json postData(const Post& post) {
  const bool event = post.kind == "event";
  std::string when;
  if (event) {
    when = longDate(post.eventDate);
    if (!post.startTime.empty()) when += ", " + post.startTime + (post.endTime.empty() ? "" : " to " + post.endTime);
  }
  return {{"id", post.id},
          {"event", event},
          {"title", post.title},
          {"body", post.body},
          {"when", when},
          {"date", post.eventDate},
          {"startTime", post.startTime},
          {"endTime", post.endTime},
          {"place", post.place},
          {"onlineLink", post.onlineLink},
          {"accessibility", post.accessibility},
          {"postedOn", longDate(post.postedOn)}};
}

nlohmann::json networkData(const Network& network) {
  return {{"slug", network.slug},
          {"name", network.name},
          {"summary", network.summary},
          {"purpose", network.purpose},
          {"whoFor", network.whoFor},
          {"alliesWelcome", network.alliesWelcome},
          {"contactEmail", network.contactEmail},
          {"meetingPattern", network.meetingPattern},
          {"visibility", network.visibility},
          {"confidential", network.confidential()},
          {"archived", network.archived},
          {"href", "/networks/" + network.slug}};
}

Network NetworksContext::require(const std::string& slug) {
  auto network = store.find(slug);
  if (!network) throw NetworkError(404, "There is no staff network at this address");
  return *network;
}

bool NetworksContext::isChair(const belonging::Request& request, const Network& network) {
  if (!request.user) return false;
  // Only a grant scoped to this network counts: an unscoped network-chair grant is not a key
  // to every confidential member list.
  return std::any_of(request.user->roles.begin(), request.user->roles.end(), [&](const belonging::RoleGrant& grant) {
    return grant.role == "network-chair" && grant.scope == network.slug;
  });
}

bool NetworksContext::isSponsor(const belonging::Request& request, const Network& network) {
  return request.user && network.sponsorUserId != 0 && request.user->userId == network.sponsorUserId;
}

MemberView NetworksContext::memberView(const belonging::Request& request, const Network& network) {
  if (!request.user) return MemberView::None;
  if (leads(request, network)) return MemberView::All;
  if (network.confidential()) return MemberView::None;
  return store.membership(network.id, request.user->userId) ? MemberView::VisibleOnly : MemberView::None;
}

MemberView NetworksContext::requireMemberView(const belonging::Request& request, const Network& network) {
  const MemberView view = memberView(request, network);
  if (view == MemberView::None) {
    host.audit().record(request, "networks.members.denied", "network:" + network.slug);
    throw NetworkError(403, network.confidential()
                                ? "Only the network's chairs and executive sponsor can see who belongs to " + network.name
                                : "Only members of " + network.name +
                                      " can see its member list, and only the members who chose to be seen");
  }
  return view;
}

void NetworksContext::requireLead(const belonging::Request& request, const Network& network, const std::string& action,
                                  std::string_view permission) {
  // can() is the roles' permissions, narrowed to the scopes when the request came with a token.
  if (!leads(request, network) || !request.user->can(permission)) {
    host.audit().record(request, "networks.lead.denied", "network:" + network.slug, action);
    throw NetworkError(403, "Only the chairs and executive sponsor of " + network.name + " can do this");
  }
}

bool NetworksContext::join(const belonging::Request& request, const Network& network, const std::string& kind,
                           const std::string& consentVersion, bool visible) {
  if (network.archived) {
    throw NetworkError(409, network.name + " is archived and is not taking new members");
  }
  if (kind != "member" && kind != "ally") {
    throw NetworkError(400, "Choose whether you are joining as a member or as an ally");
  }
  if (kind == "ally" && !network.alliesWelcome) {
    throw NetworkError(409, network.name + " does not take allies: it is a space for its members only");
  }
  if (consentVersion.empty()) {
    throw NetworkError(400, "Confirm that you have read and agree to the statement about your membership");
  }
  if (consentVersion != std::to_string(kConsentVersion)) {
    throw NetworkError(409, "The statement about your membership has changed (it is now version " +
                                std::to_string(kConsentVersion) + "): read it again before you join");
  }
  Membership membership;
  membership.networkId = network.id;
  membership.userId = request.user->userId;
  membership.kind = kind;
  // On a confidential network nobody but the chairs and sponsor sees members, whatever is asked.
  membership.visible = visible && !network.confidential();
  membership.consentVersion = kConsentVersion;
  membership.consentedAt = static_cast<std::int64_t>(std::time(nullptr));
  return store.join(membership);
}

nlohmann::json NetworksContext::exportUserData(std::int64_t userId) {
  nlohmann::json memberships = nlohmann::json::array();
  const auto all = store.networks(true);
  for (const auto& membership : store.membershipsOf(userId)) {
    for (const auto& network : all) {
      if (network.id != membership.networkId) continue;
      memberships.push_back({{"network", network.name},
                             {"slug", network.slug},
                             {"kind", membership.kind},
                             {"name_visible_to_members", membership.visible},
                             {"consent_version", membership.consentVersion},
                             {"consented_at", membership.consentedAt}});
    }
  }
  nlohmann::json sponsored = nlohmann::json::array();
  for (const auto& network : all) {
    if (network.sponsorUserId == userId) sponsored.push_back(network.slug);
  }
  // The records' keys stay secret: a helper who knew their own could work out the noise.
  nlohmann::json records = nlohmann::json::array();
  for (const std::int64_t networkId : store.recordNetworksOf(userId)) {
    for (const auto& network : all) {
      if (network.id == networkId) records.push_back(network.slug);
    }
  }
  return {{"memberships", memberships}, {"sponsor_of", sponsored}, {"network_records", records}};
}

nlohmann::json NetworksContext::memberRows(const Network& network, MemberView view) {
  nlohmann::json rows = nlohmann::json::array();
  if (view == MemberView::None) return rows;
  for (const auto& membership : store.members(network.id)) {
    if (view == MemberView::VisibleOnly && !membership.visible) continue;
    const auto user = host.users().findById(membership.userId);
    if (!user || user->disabled) continue;
    rows.push_back({{"userId", membership.userId},
                    {"name", user->displayName},
                    {"username", user->username},
                    {"kind", membership.kind == "member" ? "Member" : "Ally"},
                    {"visible", membership.visible},
                    {"joined", dateOf(membership.consentedAt)},
                    {"joinedText", longDate(dateOf(membership.consentedAt))}});
  }
  return rows;
}

nlohmann::json NetworksContext::leaders(const Network& network) {
  nlohmann::json chairs = nlohmann::json::array();
  for (const auto& chair : host.users().holders("network-chair", network.slug)) {
    chairs.push_back({{"userId", chair.id}, {"name", chair.displayName}, {"username", chair.username}});
  }
  nlohmann::json data{{"chairs", chairs}, {"hasChairs", !chairs.empty()}, {"sponsor", nullptr}};
  if (network.sponsorUserId != 0) {
    if (const auto sponsor = host.users().findById(network.sponsorUserId); sponsor && !sponsor->disabled) {
      data["sponsor"] = {{"userId", sponsor->id}, {"name", sponsor->displayName}, {"username", sponsor->username}};
    }
  }
  return data;
}

MembershipFigures NetworksContext::figures() {
  const auto active = store.networks(false);
  const auto memberships = store.countedMemberships();
  const std::string period = thisMonth();
  std::vector<std::string> names;
  std::map<std::int64_t, std::string> nameOf;
  for (const auto& network : active) {
    names.push_back(network.name);
    nameOf[network.id] = network.name;
  }
  MembershipFigures figures{period, today(), nlohmann::json::object()};
  if (names.empty()) return figures;

  // The same memberships give the same release, so a page view need not take the ledger's
  // lock again until someone joins or leaves.
  std::string key;
  for (const auto& name : names) key += "|" + name;
  for (const auto& membership : memberships) {
    key += ";" + std::to_string(membership.record) + ":" + std::to_string(membership.networkId) + membership.kind;
  }
  std::lock_guard lock(figuresMutex_);
  if (key == figuresKey_ && figuresCache_.period == period) return figuresCache_;

  belonging::Table table({{"Network", names, {}, "All networks"}, {"Kind", {"Member", "Ally"}, {}, "Total"}});
  for (const auto& membership : memberships) {
    // One record and key per person per network: the cell-key method perturbs every count, and
    // the same people give the same figure on every page, export and API, in every month.
    table.addRecord(membership.record, membership.key,
                    {nameOf[membership.networkId], membership.kind == "member" ? "Member" : "Ally"});
  }
  // With no members there is nobody to protect and nothing for the ledger to compare. The
  // ledger's period is only a label: it compares this month's release with every earlier one.
  const auto released = table.hasRecords()
                            ? host.disclosure().release(table, {"membership", period, "active networks, members and allies"})
                            : host.disclosure().releaseCounts(table);
  const auto& policy = host.disclosure().policy();
  nlohmann::json cells = nlohmann::json::object();
  for (std::size_t row = 0; row < table.positions(0).size(); ++row) {
    for (std::size_t column = 0; column < table.positions(1).size(); ++column) {
      cells[table.positions(0)[row].label][table.positions(1)[column].label] = cellOf(released.figure({row, column}), policy);
    }
  }
  // Held back or not, what is shown is the latest publication, with its date, and a view says
  // nothing else: a page that said "newer figures are held back" would tell whoever watches a
  // quiet network that someone just joined or left. An unchanged release is not a new
  // publication (its date would show that nothing changed, where a hold-back would not).
  auto latest = store.latestPublication("membership");
  if (released.cells(belonging::CellStatus::Differencing) == 0 && (!latest || latest->second.cells != cells)) {
    store.savePublication("membership", period, {figures.publishedOn, cells});
    latest = std::make_pair(period, Publication{figures.publishedOn, cells});
  }
  if (latest) {
    figures.cells = latest->second.cells;
    figures.publishedOn = latest->second.publishedOn;
  } else {
    figures.cells = cells; // Nothing published yet: every cell hidden.
  }
  figuresKey_ = key;
  figuresCache_ = figures;
  return figures;
}

void NetworksContext::formPage(const belonging::Request& request, belonging::Response& response,
                               const std::string& templateName, nlohmann::json data, const std::string& title) {
  const bool hasErrors = data.value("hasErrors", false);
  if (hasErrors) data["errorSummary"] = host.renderer().render("networks/error-summary", data);
  host.renderer().page(request, response, templateName, data, (hasErrors ? "Error: " : "") + title);
}

std::string NetworksContext::figureHtml(const nlohmann::json& cell) const {
  if (cell.is_null()) return host.renderer().render("core/figure", {{"text", "not published"}});
  return host.renderer().render("core/figure", cell);
}

} // namespace networks
