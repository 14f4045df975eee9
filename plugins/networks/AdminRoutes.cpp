// Administration (create, edit, archive; appoint chairs and the sponsor) and the People team's
// membership figures. Admins manage networks but never see who belongs to them; the People
// team sees only disclosure-controlled counts.

#include "NetworksContext.hpp"

#include <belonging/Csv.hpp>

#include <algorithm>
#include <cctype>
#include <set>

namespace networks {
namespace {

using belonging::Request;
using belonging::Response;

using Errors = std::vector<std::pair<std::string, std::string>>;

const std::set<std::string> kReservedSlugs{"mine", "manage", "report", "new"};

bool isSlug(const std::string& slug) {
  return slug.size() >= 2 && slug.size() <= 40 && std::isalnum(static_cast<unsigned char>(slug.front())) &&
         std::all_of(slug.begin(), slug.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

bool isEmail(const std::string& text) {
  const auto at = text.find('@');
  return at != std::string::npos && at > 0 && text.find('.', at) != std::string::npos && text.size() <= 254 &&
         text.find_first_of(" \t\r\n<>\"") == std::string::npos && text.back() != '.';
}

/** Reads the network form over `network`; checks names and slugs against `others`. */
void readNetwork(const Request& request, Network& network, bool creating, const std::vector<Network>& others, Errors& errors) {
  network.name = request.formValue("name");
  network.summary = request.formValue("summary");
  network.purpose = request.formValue("purpose");
  network.whoFor = request.formValue("who_for");
  network.contactEmail = request.formValue("contact_email");
  network.meetingPattern = request.formValue("meeting_pattern");
  network.visibility = request.formValue("visibility");
  network.alliesWelcome = request.formValue("allies_welcome") != "no";
  if (creating) network.slug = request.formValue("slug");

  if (network.name.size() < 2 || network.name.size() > 100) errors.emplace_back("name", "Enter a name of 2 to 100 characters");
  else if (network.name == "All networks") errors.emplace_back("name", "Choose another name: \"All networks\" is used for totals");
  else if (std::any_of(others.begin(), others.end(), [&](const Network& other) { return other.id != network.id && other.name == network.name; })) {
    errors.emplace_back("name", "There is already a network called " + network.name);
  }
  if (creating) {
    if (!isSlug(network.slug)) {
      errors.emplace_back("slug", "Enter a web address name of 2 to 40 lower-case letters, digits and hyphens, for example carers");
    } else if (kReservedSlugs.contains(network.slug)) {
      errors.emplace_back("slug", "\"" + network.slug + "\" is used by the portal itself: choose another web address name");
    } else if (std::any_of(others.begin(), others.end(), [&](const Network& other) { return other.slug == network.slug; })) {
      errors.emplace_back("slug", "Another network already uses /networks/" + network.slug);
    }
  }
  if (network.summary.empty() || network.summary.size() > 300) errors.emplace_back("summary", "Enter a summary of up to 300 characters");
  if (network.purpose.size() > 2000) errors.emplace_back("purpose", "The purpose must be 2,000 characters or fewer");
  if (network.whoFor.size() > 1000) errors.emplace_back("who_for", "Who it is for must be 1,000 characters or fewer");
  if (!network.contactEmail.empty() && !isEmail(network.contactEmail)) {
    errors.emplace_back("contact_email", "Enter the contact email address in the right format, like name@example.nhs.uk");
  }
  if (network.meetingPattern.size() > 200) errors.emplace_back("meeting_pattern", "The meeting pattern must be 200 characters or fewer");
  if (network.visibility != "open" && network.visibility != "confidential") {
    errors.emplace_back("visibility", "Choose whether the network is open or confidential");
  }
}

void networkForm(NetworksContext& context, const Request& request, Response& response, const Network& network,
                 bool creating, nlohmann::json extra) {
  auto data = networkData(network);
  data["creating"] = creating;
  data["csrfToken"] = request.csrfToken;
  data["errors"] = nlohmann::json::array();
  data["visibilityOpen"] = network.visibility != "confidential";
  data["alliesNo"] = !network.alliesWelcome;
  data["action"] = creating ? "/networks/manage/new" : "/networks/" + network.slug + "/edit";
  if (!creating) data.update(context.leaders(network));
  data.update(extra);
  const std::string title = creating ? "Create a network" : "Edit " + network.name;
  context.formPage(request, response, "networks/edit", data, title);
}

std::string monthName(const std::string& period) {
  static const char* kMonths[] = {"January", "February", "March",     "April",   "May",      "June",
                                  "July",    "August",   "September", "October", "November", "December"};
  if (period.size() != 7) return period;
  const int month = std::atoi(period.substr(5).c_str());
  return month >= 1 && month <= 12 ? std::string(kMonths[month - 1]) + " " + period.substr(0, 4) : period;
}

} // namespace

void registerAdminRoutes(NetworksContext& context) {
  addRoute(context, "GET", "/networks/manage", "networks.manage", [&context](const Request& request, Response& response) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& network : context.store.networks(true)) {
      auto row = networkData(network);
      row.update(context.leaders(network));
      rows.push_back(row);
    }
    context.host.renderer().page(request, response, "networks/manage", {{"networks", rows}}, "Manage networks");
  });

  addRoute(context, "GET", "/networks/manage/new", "networks.manage", [&context](const Request& request, Response& response) {
    networkForm(context, request, response, Network{}, true, nlohmann::json::object());
  });

  addRoute(context, "POST", "/networks/manage/new", "networks.manage", [&context](const Request& request, Response& response) {
    Network network;
    Errors errors;
    readNetwork(request, network, true, context.store.networks(true), errors);
    if (!errors.empty()) {
      response.status = 400;
      return networkForm(context, request, response, network, true, formErrors(errors));
    }
    context.store.create(network);
    context.host.audit().record(request, "networks.create", "network:" + network.slug, network.name);
    response.flash.push_back({"success", network.name + " has been created. Appoint its chairs below."});
    response.redirect("/networks/" + network.slug + "/edit");
  });

  addRoute(context, "GET", "/networks/report", "networks.report", [&context](const Request& request, Response& response) {
    const auto figures = context.figures();
    const auto active = context.store.networks(false);
    nlohmann::json rows = nlohmann::json::array();
    auto rowOf = [&](const std::string& label, bool total) {
      nlohmann::json row{{"label", label}, {"total", total}};
      for (const char* column : {"Member", "Ally", "Total"}) {
        const auto cell = figures.cells.contains(label) ? figures.cells[label][column] : nlohmann::json();
        row[std::string("c") + column] = context.figureHtml(cell);
      }
      return row;
    };
    for (const auto& network : active) rows.push_back(rowOf(network.name, false));
    if (!active.empty()) rows.push_back(rowOf("All networks", true));

    // Earlier months: the figures as last published in each month, newest first.
    nlohmann::json headings = nlohmann::json::array(), history = nlohmann::json::array();
    for (const auto& network : active) headings.push_back(network.name);
    auto publications = context.store.publications("membership");
    std::reverse(publications.begin(), publications.end());
    for (const auto& [period, publication] : publications) {
      nlohmann::json cells = nlohmann::json::array();
      for (const auto& network : active) {
        const auto cell = publication.cells.contains(network.name) ? publication.cells[network.name]["Total"] : nlohmann::json();
        cells.push_back({{"figure", context.figureHtml(cell)}});
      }
      history.push_back({{"month", monthName(period)}, {"publishedOn", longDate(publication.publishedOn)}, {"cells", cells}});
    }
    context.host.renderer().page(request, response, "networks/report",
                                 {{"month", monthName(figures.period)},
                                  {"rows", rows},
                                  {"publishedOn", longDate(figures.publishedOn)},
                                  {"threshold", context.host.disclosure().policy().threshold},
                                  {"headings", headings},
                                  {"history", history},
                                  {"hasHistory", !history.empty()}},
                                 "Network membership");
  });

  addRoute(context, "GET", "/networks/report.csv", "networks.report", [&context](const Request& request, Response& response) {
    const auto figures = context.figures();
    std::string csv = belonging::csvRow({"Network", "Members", "Allies", "Total"});
    auto line = [&](const std::string& label) {
      std::string values[3];
      for (std::size_t column = 0; column < 3; ++column) {
        const char* name = column == 0 ? "Member" : column == 1 ? "Ally" : "Total";
        const auto cell = figures.cells.contains(label) ? figures.cells[label][name] : nlohmann::json();
        values[column] = cell.is_object() && cell["value"].is_number() ? std::to_string(cell["value"].get<std::int64_t>()) : "*";
      }
      csv += belonging::csvRow({belonging::csvField(label), values[0], values[1], values[2]});
    };
    for (const auto& network : context.store.networks(false)) line(network.name);
    line("All networks");
    csv += "\r\n" + belonging::csvRow({belonging::csvField(std::string("* = ") + belonging::kHiddenExplanation + ". As published on " +
                                                       longDate(figures.publishedOn) +
                                                       "; each figure carries a small fixed noise, -3 to +3")});
    context.host.audit().record(request, "networks.report.export", "membership:" + figures.period);
    response.attachment("network-membership-" + figures.period + ".csv", "text/csv; charset=utf-8", csv);
  });

  addRoute(context, "GET", "/networks/{slug}/edit", "networks.manage", [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    networkForm(context, request, response, network, false, nlohmann::json::object());
  });

  addRoute(context, "POST", "/networks/{slug}/edit", "networks.manage", [&context](const Request& request, Response& response) {
    Network network = context.require(request.param("slug"));
    Errors errors;
    readNetwork(request, network, false, context.store.networks(true), errors);
    if (!errors.empty()) {
      response.status = 400;
      return networkForm(context, request, response, network, false, formErrors(errors));
    }
    context.store.update(network);
    context.host.audit().record(request, "networks.edit", "network:" + network.slug, network.name);
    response.flash.push_back({"success", network.name + " has been updated."});
    response.redirect("/networks/" + network.slug);
  });

  addRoute(context, "POST", "/networks/{slug}/archive", "networks.manage", [&context](const Request& request, Response& response) {
    Network network = context.require(request.param("slug"));
    network.archived = request.formValue("archived") != "no";
    context.store.update(network);
    context.host.audit().record(request, network.archived ? "networks.archive" : "networks.restore", "network:" + network.slug);
    response.flash.push_back({"success", network.name + (network.archived ? " has been archived: it no longer takes new members."
                                                                          : " is active again.")});
    response.redirect("/networks/" + network.slug + "/edit");
  });

  addRoute(context, "POST", "/networks/{slug}/chairs", "networks.manage", [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    const std::string username = request.formValue("username");
    const auto user = context.host.users().findByUsername(username);
    if (!user || user->disabled) {
      response.status = 400;
      return networkForm(context, request, response, network, false,
                         formErrors({{"chair_username", username.empty() ? "Enter the username of the new chair"
                                                                         : "There is no active user called " + username}}));
    }
    context.host.users().grantRole(user->id, "network-chair", network.slug);
    context.host.audit().record(request, "networks.chair.appoint", "network:" + network.slug, "user:" + user->username);
    response.flash.push_back({"success", user->displayName + " is now a chair of " + network.name + "."});
    response.redirect("/networks/" + network.slug + "/edit");
  });

  addRoute(context, "POST", "/networks/{slug}/chairs/{userId}/remove", "networks.manage",
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    const std::int64_t userId = idParam(request, "userId", "chair");
    if (!context.host.users().revokeRole(userId, "network-chair", network.slug)) {
      throw NetworkError(404, "That person is not a chair of " + network.name);
    }
    const auto user = context.host.users().findById(userId);
    context.host.audit().record(request, "networks.chair.remove", "network:" + network.slug,
                                "user:" + (user ? user->username : std::to_string(userId)));
    response.flash.push_back({"success", (user ? user->displayName : std::string("The chair")) +
                                             " is no longer a chair of " + network.name + "."});
    response.redirect("/networks/" + network.slug + "/edit");
  });

  addRoute(context, "POST", "/networks/{slug}/sponsor", "networks.manage", [&context](const Request& request, Response& response) {
    Network network = context.require(request.param("slug"));
    const std::string username = request.formValue("username");
    std::string detail = "none";
    if (username.empty()) {
      network.sponsorUserId = 0;
    } else {
      const auto user = context.host.users().findByUsername(username);
      if (!user || user->disabled) {
        response.status = 400;
        return networkForm(context, request, response, network, false,
                           formErrors({{"sponsor_username", "There is no active user called " + username}}));
      }
      network.sponsorUserId = user->id;
      detail = "user:" + user->username;
    }
    context.store.update(network);
    context.host.audit().record(request, "networks.sponsor.set", "network:" + network.slug, detail);
    response.flash.push_back({"success", username.empty() ? network.name + " has no executive sponsor now."
                                                          : "The executive sponsor of " + network.name + " has been changed."});
    response.redirect("/networks/" + network.slug + "/edit");
  });
}

} // namespace networks
