#pragma once
// The networks plugin's tables: networks, memberships, posts (announcements and events) and
// the last published figures. Membership is special category data (it can reveal health,
// ethnicity, religion or sexual orientation), so a membership row holds only what the
// consent statement says it holds, and leaving deletes it.

#include <belonging/Host.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace networks {

/** A staff network's profile. Chairs are core role grants (network-chair, scope = slug). */
struct Network {
  std::int64_t id = 0;
  std::string slug; ///< Fixed at creation: chair grants are scoped to it.
  std::string name;
  std::string summary;
  std::string purpose;
  std::string whoFor;
  bool alliesWelcome = true;
  std::string contactEmail;
  std::string meetingPattern;
  std::string visibility = "open"; ///< "open" or "confidential".
  bool archived = false;
  std::int64_t sponsorUserId = 0;  ///< The executive sponsor's user id, 0 for none.

  bool confidential() const { return visibility == "confidential"; }
};

/** One person's membership of one network. */
struct Membership {
  std::int64_t id = 0; ///< Also the record id the release ledger sees.
  std::int64_t networkId = 0;
  std::int64_t userId = 0;
  std::string kind;     ///< "member" or "ally".
  bool visible = false; ///< Name shown to other members (open networks only).
  int consentVersion = 0;
  std::int64_t consentedAt = 0; ///< Seconds since the epoch.
};

/**
 * A membership as the disclosure-controlled counts see it: by the person's record for the
 * network, which outlives leaving, so leaving and rejoining is the same record and key.
 */
struct CountedMembership {
  std::int64_t networkId = 0;
  std::string kind;          ///< "member" or "ally".
  std::uint32_t record = 0;  ///< The (person, network) record id the release ledger sees.
  std::uint8_t key = 0;      ///< Its cell key (belonging::newRecordKey), drawn once.
};

/** An announcement, or an event with a date. */
struct Post {
  std::int64_t id = 0;
  std::int64_t networkId = 0;
  std::string kind; ///< "announcement" or "event".
  std::string title;
  std::string body;
  std::string eventDate; ///< YYYY-MM-DD for events.
  std::string startTime; ///< HH:MM
  std::string endTime;
  std::string place;
  std::string onlineLink;
  std::string accessibility;
  std::string postedOn; ///< YYYY-MM-DD
};

/** The figures last published for a measure and period, already disclosure-controlled. */
struct Publication {
  std::string publishedOn;
  nlohmann::json cells; ///< {"<row label>": {"<column label>": figure JSON}}
};

class NetworkStore {
public:
  explicit NetworkStore(belonging::Database& database) : database_(database) {}

  static std::vector<belonging::Migration> migrations();

  std::vector<Network> networks(bool includeArchived);
  std::optional<Network> find(const std::string& slug);
  std::int64_t create(const Network& network);
  void update(const Network& network);

  /** The person's membership of the network, if any. */
  std::optional<Membership> membership(std::int64_t networkId, std::int64_t userId);
  /**
   * Adds or updates (idempotent); returns true when a new membership was created. The first
   * join of a network also creates the person's record for it, with a new key.
   */
  bool join(const Membership& membership);
  /** Deletes the membership; returns whether there was one. */
  bool leave(std::int64_t networkId, std::int64_t userId);
  std::vector<Membership> membershipsOf(std::int64_t userId);
  /** The networks the person has a record for (joined at some time), for their data export. */
  std::vector<std::int64_t> recordNetworksOf(std::int64_t userId);
  std::vector<Membership> members(std::int64_t networkId);
  /**
   * Every membership of an active network, by record and key, for the disclosure-controlled
   * counts. Gives a key to records from before keys existed (migration 0002) first.
   */
  std::vector<CountedMembership> countedMemberships();
  /**
   * Deletes the person's memberships, their network records and keys, and their sponsorships;
   * returns how many membership and sponsorship rows went.
   */
  int eraseUser(std::int64_t userId);

  std::vector<Post> posts(std::int64_t networkId, const std::string& today, int limit);
  /** Upcoming events of the networks the user belongs to, soonest first. */
  std::vector<std::pair<Network, Post>> upcomingEventsFor(std::int64_t userId, const std::string& today, int limit);
  std::int64_t addPost(const Post& post);
  bool deletePost(std::int64_t networkId, std::int64_t postId);

  std::optional<Publication> publication(const std::string& measure, const std::string& period);
  void savePublication(const std::string& measure, const std::string& period, const Publication& publication);
  /** The latest publication of a measure, with its period, if any. */
  std::optional<std::pair<std::string, Publication>> latestPublication(const std::string& measure);
  /** Every stored publication of a measure, oldest period first. */
  std::vector<std::pair<std::string, Publication>> publications(const std::string& measure);

private:
  belonging::Database& database_;
};

} // namespace networks
