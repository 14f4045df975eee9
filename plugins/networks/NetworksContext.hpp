#pragma once
// What the networks plugin's routes share: the host, the store, who may do what, and the
// operations that the pages and the JSON API both offer (join, leave, the member list), so
// the two can never apply different rules.

#include "NetworkStore.hpp"

#include <belonging/Host.hpp>

#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>

namespace networks {

/** Posting to and deleting posts from the networks one chairs or sponsors. */
inline constexpr const char* kPostsPermission = "networks.posts";

/** The version of the consent statement (templates/consent.mustache). Bump it with the text. */
inline constexpr int kConsentVersion = 1;

/** A request the plugin refuses, with the HTTP status and a message that says why. */
class NetworkError : public std::runtime_error {
public:
  NetworkError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

private:
  int status_;
};

/** Which members a viewer may see on a network's member list. */
enum class MemberView { None, VisibleOnly, All };

/** The latest published membership figures (disclosure-controlled, perturbed). */
struct MembershipFigures {
  std::string period;      ///< This month, "2026-11".
  std::string publishedOn; ///< The date these figures were published (this month or earlier).
  nlohmann::json cells;    ///< {"<network name>": {"Member": cell, "Ally": cell, "Total": cell}}, plus "All networks".
};

class NetworksContext {
public:
  explicit NetworksContext(belonging::Host& pluginHost) : host(pluginHost), store(pluginHost.database()) {}

  belonging::Host& host;
  NetworkStore store;

  /** The network, or NetworkError 404. Archived networks are found (their pages say so). */
  Network require(const std::string& slug);
  /** Holds a network-chair grant scoped to exactly this network. */
  static bool isChair(const belonging::Request& request, const Network& network);
  static bool isSponsor(const belonging::Request& request, const Network& network);
  /** Chairs and the executive sponsor run the network. */
  static bool leads(const belonging::Request& request, const Network& network) {
    return isChair(request, network) || isSponsor(request, network);
  }
  /** Who may see which members; a refusal is audited by requireMemberView. */
  MemberView memberView(const belonging::Request& request, const Network& network);
  /** As memberView, but refuses (403, audited as networks.members.denied) when None. */
  MemberView requireMemberView(const belonging::Request& request, const Network& network);
  /**
   * Refuses (403, audited) unless the user chairs or sponsors the network and this request may
   * act with that role for `permission`: a role is the user's, but an API token acts only
   * within its scopes, so a token scoped to signed-in pages cannot post as the chair.
   */
  void requireLead(const belonging::Request& request, const Network& network, const std::string& action,
                   std::string_view permission);

  /**
   * Joins (or changes how one belongs, idempotently) after consent to the current statement.
   * Throws NetworkError 400 for a bad kind, 409 for an archived network, a stale consent
   * version or "ally" where allies are not asked for. Returns true if newly joined.
   */
  bool join(const belonging::Request& request, const Network& network, const std::string& kind,
            const std::string& consentVersion, bool visible);

  /** The member list a viewer may see: names, kind and joining date. */
  nlohmann::json memberRows(const Network& network, MemberView view);
  /** Names of the network's chairs, and its sponsor's, for the profile. */
  nlohmann::json leaders(const Network& network);

  /** Everything the plugin holds about the user (the privacy manifest's export). */
  nlohmann::json exportUserData(std::int64_t userId);

  /**
   * The latest membership figures, through host.disclosure() (the ledger and the cell-key
   * method apply), published again when at least k people have joined or left.
   */
  MembershipFigures figures();
  /** A stored cell as template data for core/figure. */
  std::string figureHtml(const nlohmann::json& cell) const;

  /**
   * Renders a page with a form: when `data` has errors (formErrors), the error summary goes
   * at the top ({{{errorSummary}}}) and the title starts "Error: ", as the NHS.UK pattern asks.
   */
  void formPage(const belonging::Request& request, belonging::Response& response, const std::string& templateName,
                nlohmann::json data, const std::string& title);

  /** Today, YYYY-MM-DD (UTC). */
  static std::string today();
  /** This month, YYYY-MM (UTC). */
  static std::string thisMonth();

private:
  std::mutex figuresMutex_;
  std::string figuresKey_;
  MembershipFigures figuresCache_;
};

/**
 * Registers a route whose handler may throw NetworkError, which becomes the error page (or,
 * for the API, the JSON error) it describes.
 */
void addRoute(NetworksContext& context, std::string method, std::string pattern, std::string permission,
              belonging::Handler handler);
/** A numeric path parameter such as {userId}; NetworkError 404 ("There is no such <what>") otherwise. */
std::int64_t idParam(const belonging::Request& request, const std::string& name, const std::string& what);
/** The form's "return" path if it is one of this plugin's pages, else `fallback`. */
std::string returnPath(const belonging::Request& request, const std::string& fallback);
/** Template data for an error summary and its field messages: {"errors": [...], "<field>Error": text}. */
nlohmann::json formErrors(const std::vector<std::pair<std::string, std::string>>& fieldMessages);

void registerStaffRoutes(NetworksContext& context);
void registerLeadRoutes(NetworksContext& context);
void registerAdminRoutes(NetworksContext& context);
void registerApiRoutes(NetworksContext& context);

/** YYYY-MM-DD (UTC) of a Unix time. */
std::string dateOf(std::int64_t at);
/** "Tuesday 3 December 2026" for YYYY-MM-DD; the input unchanged if it is not a date. */
std::string longDate(const std::string& isoDate);
/** A post as template data. */
nlohmann::json postData(const Post& post);
/** A network as template data (profile fields only, no figures). */
nlohmann::json networkData(const Network& network);

} // namespace networks
