// What a network's chairs and executive sponsor can do: export the member list, remove a
// member, and post announcements and events. Every route checks that the user leads this
// network (a chair of another network is refused and the attempt audited).
//
// Audit entries never name the member concerned: administrators read the audit log, and
// they must not learn who belongs to a network from it.

#include "NetworksContext.hpp"

#include <belonging/Csv.hpp>

#include <ctime>

namespace networks {
namespace {

using belonging::Request;
using belonging::Response;

bool isDate(const std::string& text) {
  std::tm parts{};
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  const char* end = strptime(text.c_str(), "%Y-%m-%d", &parts);
  if (!end || *end != '\0') return false;
  // strptime accepts 31 February; a round trip through timegm does not.
  std::tm copy = parts;
  timegm(&copy);
  return copy.tm_mday == parts.tm_mday && copy.tm_mon == parts.tm_mon;
}

bool isTime(const std::string& text) {
  return text.size() == 5 && text[2] == ':' && std::isdigit(static_cast<unsigned char>(text[0])) &&
         std::isdigit(static_cast<unsigned char>(text[1])) && std::isdigit(static_cast<unsigned char>(text[3])) &&
         std::isdigit(static_cast<unsigned char>(text[4])) && text.substr(0, 2) < "24" && text.substr(3, 2) < "60";
}

bool isLink(const std::string& text) {
  return (text.starts_with("https://") || text.starts_with("http://")) && text.size() <= 500 &&
         text.find_first_of(" \t\r\n\"<>") == std::string::npos && text.size() > 10;
}

/** Reads and checks the post form; fills `errors` (field, message) for each problem. */
Post readPost(const Request& request, const Network& network, std::vector<std::pair<std::string, std::string>>& errors) {
  Post post;
  post.networkId = network.id;
  post.kind = request.formValue("kind");
  post.title = request.formValue("title");
  post.body = request.formValue("body");
  post.eventDate = request.formValue("event_date");
  post.startTime = request.formValue("start_time");
  post.endTime = request.formValue("end_time");
  post.place = request.formValue("place");
  post.onlineLink = request.formValue("online_link");
  post.accessibility = request.formValue("accessibility");
  post.postedOn = NetworksContext::today();
  if (post.kind != "announcement" && post.kind != "event") errors.emplace_back("kind", "Choose an announcement or an event");
  if (post.title.empty()) errors.emplace_back("title", "Enter a title");
  else if (post.title.size() > 120) errors.emplace_back("title", "The title must be 120 characters or fewer");
  if (post.body.size() > 4000) errors.emplace_back("body", "The details must be 4,000 characters or fewer");
  if (post.kind == "event") {
    if (post.eventDate.empty()) errors.emplace_back("event_date", "Enter the date of the event");
    else if (!isDate(post.eventDate)) errors.emplace_back("event_date", "Enter the date as year-month-day, for example 2026-12-03");
    else if (post.eventDate < NetworksContext::today()) errors.emplace_back("event_date", "The date of the event must be today or later");
    if (!isTime(post.startTime)) errors.emplace_back("start_time", "Enter the start time as hours and minutes, for example 17:30");
    if (!post.endTime.empty() && (!isTime(post.endTime) || post.endTime <= post.startTime)) {
      errors.emplace_back("end_time", "Enter an end time after the start time, for example 18:30, or leave it empty");
    }
    if (post.place.empty() && post.onlineLink.empty()) errors.emplace_back("place", "Enter a place, an online link, or both");
    if (post.place.size() > 200) errors.emplace_back("place", "The place must be 200 characters or fewer");
    if (!post.onlineLink.empty() && !isLink(post.onlineLink)) {
      errors.emplace_back("online_link", "Enter the online link as a full web address starting https://");
    }
    if (post.accessibility.size() > 1000) errors.emplace_back("accessibility", "Accessibility notes must be 1,000 characters or fewer");
  } else {
    // An announcement has no date, time or place.
    post.eventDate.clear();
    post.startTime.clear();
    post.endTime.clear();
    post.place.clear();
    post.onlineLink.clear();
    post.accessibility.clear();
  }
  return post;
}

void postForm(NetworksContext& context, const Request& request, Response& response, const Network& network,
              nlohmann::json extra) {
  auto data = networkData(network);
  data["csrfToken"] = request.csrfToken;
  for (const char* field : {"title", "body", "event_date", "start_time", "end_time", "place", "online_link", "accessibility"}) {
    data["form"][field] = request.formValue(field);
  }
  data["kindEvent"] = request.formValue("kind") != "announcement";
  data["kindAnnouncement"] = request.formValue("kind") == "announcement";
  data["today"] = NetworksContext::today();
  data["errors"] = nlohmann::json::array();
  data.update(extra);
  context.formPage(request, response, "networks/post-form", data, "Post to " + network.name);
}

} // namespace

void registerLeadRoutes(NetworksContext& context) {
  addRoute(context, "GET", "/networks/{slug}/members.csv", "networks.members",
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    context.requireLead(request, network, "export members", "networks.members");
    const auto rows = context.memberRows(network, MemberView::All);
    std::string csv = belonging::csvRow({"Name", "Username", "Kind", "Joined", "Name shown to members"});
    for (const auto& row : rows) {
      csv += belonging::csvRow({belonging::csvField(row["name"].get<std::string>()),
                                belonging::csvField(row["username"].get<std::string>()),
                                belonging::csvField(row["kind"].get<std::string>()),
                                belonging::csvField(row["joined"].get<std::string>()),
                                row["visible"].get<bool>() ? "yes" : "no"});
    }
    context.host.audit().record(request, "networks.members.export", "network:" + network.slug,
                                std::to_string(rows.size()) + " rows");
    response.attachment(network.slug + "-members-" + NetworksContext::today() + ".csv", "text/csv; charset=utf-8", csv);
  });

  addRoute(context, "POST", "/networks/{slug}/members/{userId}/remove", "networks.members",
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    context.requireLead(request, network, "remove a member", "networks.members");
    const std::int64_t userId = idParam(request, "userId", "member");
    const std::string reason = request.formValue("reason");
    if (reason.empty() || reason.size() > 500) {
      throw NetworkError(400, "Give a reason for removing the member (up to 500 characters): it is kept in the audit log");
    }
    if (!context.store.leave(network.id, userId)) throw NetworkError(404, "That person is not a member of " + network.name);
    context.host.audit().record(request, "networks.member.remove", "network:" + network.slug, "reason: " + reason);
    response.flash.push_back({"success", "The member has been removed from " + network.name + "."});
    response.redirect("/networks/" + network.slug + "/members");
  });

  addRoute(context, "GET", "/networks/{slug}/posts/new", belonging::kSignedIn,
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    context.requireLead(request, network, "post", kPostsPermission);
    postForm(context, request, response, network, nlohmann::json::object());
  });

  addRoute(context, "POST", "/networks/{slug}/posts", belonging::kSignedIn,
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    context.requireLead(request, network, "post", kPostsPermission);
    if (network.archived) throw NetworkError(409, network.name + " is archived: nothing new can be posted to it");
    std::vector<std::pair<std::string, std::string>> errors;
    const Post post = readPost(request, network, errors);
    if (!errors.empty()) {
      response.status = 400;
      return postForm(context, request, response, network, formErrors(errors));
    }
    const auto id = context.store.addPost(post);
    context.host.audit().record(request, "networks.post.add", "network:" + network.slug,
                                post.kind + " " + std::to_string(id) + ": " + post.title);
    response.flash.push_back({"success", std::string(post.kind == "event" ? "Your event" : "Your announcement") +
                                             " is now on the " + network.name + " page."});
    response.redirect("/networks/" + network.slug);
  });

  addRoute(context, "POST", "/networks/{slug}/posts/{postId}/delete", belonging::kSignedIn,
           [&context](const Request& request, Response& response) {
    const Network network = context.require(request.param("slug"));
    context.requireLead(request, network, "delete a post", kPostsPermission);
    const std::int64_t postId = idParam(request, "postId", "post");
    if (!context.store.deletePost(network.id, postId)) throw NetworkError(404, "There is no such post on " + network.name);
    context.host.audit().record(request, "networks.post.delete", "network:" + network.slug, std::to_string(postId));
    response.flash.push_back({"success", "The post has been deleted."});
    response.redirect("/networks/" + network.slug);
  });
}

} // namespace networks
