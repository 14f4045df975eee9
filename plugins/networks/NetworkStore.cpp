#include "NetworkStore.hpp"

#include <belonging/WriteTransaction.hpp>
#include <soci/soci.h>

namespace networks {
namespace {

constexpr const char* kNetworkColumns =
    "id, slug, name, summary, purpose, who_for, allies_welcome, contact_email, meeting_pattern, "
    "visibility, archived, sponsor_user_id";

/** Binds a Network's columns (kNetworkColumns order) for reading row by row. */
struct NetworkRow {
  Network network;
  int alliesWelcome = 0;
  int archived = 0;

  void bind(soci::statement& statement) {
    statement.exchange(soci::into(network.id));
    statement.exchange(soci::into(network.slug));
    statement.exchange(soci::into(network.name));
    statement.exchange(soci::into(network.summary));
    statement.exchange(soci::into(network.purpose));
    statement.exchange(soci::into(network.whoFor));
    statement.exchange(soci::into(alliesWelcome));
    statement.exchange(soci::into(network.contactEmail));
    statement.exchange(soci::into(network.meetingPattern));
    statement.exchange(soci::into(network.visibility));
    statement.exchange(soci::into(archived));
    statement.exchange(soci::into(network.sponsorUserId));
  }
  Network take() {
    network.alliesWelcome = alliesWelcome != 0;
    network.archived = archived != 0;
    return network;
  }
};

constexpr const char* kMembershipColumns =
    "id, network_id, user_id, kind, visible, consent_version, consented_at";

struct MembershipRow {
  Membership membership;
  int visible = 0;

  void bind(soci::statement& statement) {
    statement.exchange(soci::into(membership.id));
    statement.exchange(soci::into(membership.networkId));
    statement.exchange(soci::into(membership.userId));
    statement.exchange(soci::into(membership.kind));
    statement.exchange(soci::into(visible));
    statement.exchange(soci::into(membership.consentVersion));
    statement.exchange(soci::into(membership.consentedAt));
  }
  Membership take() {
    membership.visible = visible != 0;
    return membership;
  }
};

constexpr const char* kPostColumns =
    "id, network_id, kind, title, body, event_date, start_time, end_time, place, online_link, "
    "accessibility, posted_on";

struct PostRow {
  Post post;
  void bind(soci::statement& statement) {
    statement.exchange(soci::into(post.id));
    statement.exchange(soci::into(post.networkId));
    statement.exchange(soci::into(post.kind));
    statement.exchange(soci::into(post.title));
    statement.exchange(soci::into(post.body));
    statement.exchange(soci::into(post.eventDate));
    statement.exchange(soci::into(post.startTime));
    statement.exchange(soci::into(post.endTime));
    statement.exchange(soci::into(post.place));
    statement.exchange(soci::into(post.onlineLink));
    statement.exchange(soci::into(post.accessibility));
    statement.exchange(soci::into(post.postedOn));
  }
  Post take() { return post; }
};

/**
 * Runs `query` (whose select list starts with Row's columns, then any extra `into`s already
 * bound by `prepare`) and collects every row.
 */
template <typename Row, typename Prepare>
std::vector<decltype(std::declval<Row>().take())> readAll(soci::session& sql, const std::string& query,
                                                          Prepare prepare) {
  Row row;
  soci::statement statement(sql);
  row.bind(statement);
  prepare(statement);
  statement.alloc();
  statement.prepare(query);
  statement.define_and_bind();
  statement.execute(false);
  std::vector<decltype(row.take())> rows;
  while (statement.fetch()) rows.push_back(row.take());
  return rows;
}

} // namespace

std::vector<belonging::Migration> NetworkStore::migrations() {
  return {{"0001_networks", R"SQL(
CREATE TABLE networks (
  id ${AUTO_ID},
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  summary TEXT NOT NULL,
  purpose TEXT NOT NULL DEFAULT '',
  who_for TEXT NOT NULL DEFAULT '',
  allies_welcome INTEGER NOT NULL DEFAULT 1,
  contact_email TEXT NOT NULL DEFAULT '',
  meeting_pattern TEXT NOT NULL DEFAULT '',
  visibility TEXT NOT NULL CHECK (visibility IN ('open', 'confidential')),
  archived INTEGER NOT NULL DEFAULT 0,
  sponsor_user_id BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE network_memberships (
  id ${AUTO_ID},
  network_id BIGINT NOT NULL REFERENCES networks(id),
  user_id BIGINT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('member', 'ally')),
  visible INTEGER NOT NULL DEFAULT 0,
  consent_version INTEGER NOT NULL,
  consented_at BIGINT NOT NULL,
  UNIQUE (network_id, user_id)
);
CREATE INDEX network_memberships_by_user ON network_memberships(user_id);
CREATE TABLE network_posts (
  id ${AUTO_ID},
  network_id BIGINT NOT NULL REFERENCES networks(id),
  kind TEXT NOT NULL CHECK (kind IN ('announcement', 'event')),
  title TEXT NOT NULL,
  body TEXT NOT NULL DEFAULT '',
  event_date TEXT NOT NULL DEFAULT '',
  start_time TEXT NOT NULL DEFAULT '',
  end_time TEXT NOT NULL DEFAULT '',
  place TEXT NOT NULL DEFAULT '',
  online_link TEXT NOT NULL DEFAULT '',
  accessibility TEXT NOT NULL DEFAULT '',
  posted_on TEXT NOT NULL
);
CREATE INDEX network_posts_by_network ON network_posts(network_id, event_date);
CREATE TABLE network_publications (
  measure TEXT NOT NULL,
  period TEXT NOT NULL,
  published_on TEXT NOT NULL,
  cells TEXT NOT NULL,
  PRIMARY KEY (measure, period)
);
)SQL", std::nullopt},
          // One record per person per network, kept when they leave (the membership row goes at
          // once): the release ledger tracks people, so helpers who leave and rejoin do not look
          // like new people, and the cell key stays the same, so they do not get new noise.
          // cell_key is NULL only for memberships from before this migration: keys come from
          // the CSPRNG, not SQL, and are given on first use (countedMemberships).
          {"0002_record_keys", R"SQL(
CREATE TABLE network_records (
  id ${AUTO_ID},
  network_id BIGINT NOT NULL REFERENCES networks(id),
  user_id BIGINT NOT NULL,
  cell_key INTEGER CHECK (cell_key BETWEEN 0 AND 255),
  UNIQUE (network_id, user_id)
);
CREATE INDEX network_records_by_user ON network_records(user_id);
INSERT INTO network_records (network_id, user_id) SELECT network_id, user_id FROM network_memberships ORDER BY id;
)SQL", std::nullopt}};
}

std::vector<Network> NetworkStore::networks(bool includeArchived) {
  soci::session sql(database_.pool());
  const int archivedToo = includeArchived ? 1 : 0;
  return readAll<NetworkRow>(sql,
                             std::string("SELECT ") + kNetworkColumns +
                                 " FROM networks WHERE archived = 0 OR :all = 1 ORDER BY name",
                             [&](soci::statement& statement) { statement.exchange(soci::use(archivedToo)); });
}

std::optional<Network> NetworkStore::find(const std::string& slug) {
  soci::session sql(database_.pool());
  auto found = readAll<NetworkRow>(sql, std::string("SELECT ") + kNetworkColumns + " FROM networks WHERE slug = :s",
                                   [&](soci::statement& statement) { statement.exchange(soci::use(slug)); });
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::int64_t NetworkStore::create(const Network& network) {
  soci::session sql(database_.pool());
  const int allies = network.alliesWelcome ? 1 : 0, archived = network.archived ? 1 : 0;
  std::int64_t id = 0;
  sql << "INSERT INTO networks (slug, name, summary, purpose, who_for, allies_welcome, contact_email, "
         "meeting_pattern, visibility, archived, sponsor_user_id) VALUES (:slug, :name, :summary, :purpose, "
         ":who, :allies, :contact, :meeting, :visibility, :archived, :sponsor) RETURNING id",
      soci::use(network.slug), soci::use(network.name), soci::use(network.summary), soci::use(network.purpose),
      soci::use(network.whoFor), soci::use(allies), soci::use(network.contactEmail),
      soci::use(network.meetingPattern), soci::use(network.visibility), soci::use(archived),
      soci::use(network.sponsorUserId), soci::into(id);
  return id;
}

void NetworkStore::update(const Network& network) {
  soci::session sql(database_.pool());
  const int allies = network.alliesWelcome ? 1 : 0, archived = network.archived ? 1 : 0;
  sql << "UPDATE networks SET name = :name, summary = :summary, purpose = :purpose, who_for = :who, "
         "allies_welcome = :allies, contact_email = :contact, meeting_pattern = :meeting, visibility = :visibility, "
         "archived = :archived, sponsor_user_id = :sponsor WHERE id = :id",
      soci::use(network.name), soci::use(network.summary), soci::use(network.purpose), soci::use(network.whoFor),
      soci::use(allies), soci::use(network.contactEmail), soci::use(network.meetingPattern),
      soci::use(network.visibility), soci::use(archived), soci::use(network.sponsorUserId), soci::use(network.id);
}

std::optional<Membership> NetworkStore::membership(std::int64_t networkId, std::int64_t userId) {
  soci::session sql(database_.pool());
  auto found = readAll<MembershipRow>(
      sql, std::string("SELECT ") + kMembershipColumns + " FROM network_memberships WHERE network_id = :n AND user_id = :u",
      [&](soci::statement& statement) {
        statement.exchange(soci::use(networkId));
        statement.exchange(soci::use(userId));
      });
  if (found.empty()) return std::nullopt;
  return found.front();
}

bool NetworkStore::join(const Membership& membership) {
  soci::session sql(database_.pool());
  belonging::WriteTransaction transaction(sql, database_.dialect());
  const int visible = membership.visible ? 1 : 0;
  int existing = 0;
  sql << "SELECT COUNT(*) FROM network_memberships WHERE network_id = :n AND user_id = :u",
      soci::use(membership.networkId), soci::use(membership.userId), soci::into(existing);
  // ON CONFLICT makes two racing joins (two tabs, two instances) one membership.
  sql << "INSERT INTO network_memberships (network_id, user_id, kind, visible, consent_version, consented_at) "
         "VALUES (:n, :u, :k, :v, :c, :t) ON CONFLICT (network_id, user_id) DO UPDATE SET kind = excluded.kind, "
         "visible = excluded.visible, consent_version = excluded.consent_version, consented_at = excluded.consented_at",
      soci::use(membership.networkId), soci::use(membership.userId), soci::use(membership.kind), soci::use(visible),
      soci::use(membership.consentVersion), soci::use(membership.consentedAt);
  // A rejoiner keeps the record and key they had: the key must not be drawn again.
  const int key = belonging::newRecordKey();
  sql << "INSERT INTO network_records (network_id, user_id, cell_key) VALUES (:n, :u, :k) "
         "ON CONFLICT (network_id, user_id) DO NOTHING",
      soci::use(membership.networkId), soci::use(membership.userId), soci::use(key);
  transaction.commit();
  return existing == 0;
}

bool NetworkStore::leave(std::int64_t networkId, std::int64_t userId) {
  soci::session sql(database_.pool());
  soci::statement statement =
      (sql.prepare << "DELETE FROM network_memberships WHERE network_id = :n AND user_id = :u", soci::use(networkId),
       soci::use(userId));
  statement.execute(true);
  return statement.get_affected_rows() > 0;
}

std::vector<Membership> NetworkStore::membershipsOf(std::int64_t userId) {
  soci::session sql(database_.pool());
  return readAll<MembershipRow>(
      sql, std::string("SELECT ") + kMembershipColumns + " FROM network_memberships WHERE user_id = :u ORDER BY network_id",
      [&](soci::statement& statement) { statement.exchange(soci::use(userId)); });
}

std::vector<std::int64_t> NetworkStore::recordNetworksOf(std::int64_t userId) {
  soci::session sql(database_.pool());
  std::vector<std::int64_t> found;
  std::int64_t networkId = 0;
  soci::statement statement =
      (sql.prepare << "SELECT network_id FROM network_records WHERE user_id = :u ORDER BY network_id", soci::use(userId),
       soci::into(networkId));
  statement.execute();
  while (statement.fetch()) found.push_back(networkId);
  return found;
}

std::vector<Membership> NetworkStore::members(std::int64_t networkId) {
  soci::session sql(database_.pool());
  return readAll<MembershipRow>(
      sql, std::string("SELECT ") + kMembershipColumns + " FROM network_memberships WHERE network_id = :n ORDER BY consented_at, id",
      [&](soci::statement& statement) { statement.exchange(soci::use(networkId)); });
}

std::vector<CountedMembership> NetworkStore::countedMemberships() {
  soci::session sql(database_.pool());
  {
    std::vector<long long> unkeyed;
    long long id = 0;
    soci::statement statement = (sql.prepare << "SELECT id FROM network_records WHERE cell_key IS NULL", soci::into(id));
    statement.execute();
    while (statement.fetch()) unkeyed.push_back(id);
    for (const long long record : unkeyed) {
      const int key = belonging::newRecordKey();
      // IS NULL: two instances filling at once keep whichever key came first.
      sql << "UPDATE network_records SET cell_key = :k WHERE id = :i AND cell_key IS NULL", soci::use(key),
          soci::use(record);
    }
  }
  std::vector<CountedMembership> counted;
  CountedMembership row;
  long long record = 0;
  int key = 0;
  soci::statement statement =
      (sql.prepare << "SELECT m.network_id, m.kind, r.id, r.cell_key FROM network_memberships m JOIN networks n ON "
                      "n.id = m.network_id JOIN network_records r ON r.network_id = m.network_id AND r.user_id = "
                      "m.user_id WHERE n.archived = 0 ORDER BY r.id",
       soci::into(row.networkId), soci::into(row.kind), soci::into(record), soci::into(key));
  statement.execute();
  while (statement.fetch()) {
    row.record = static_cast<std::uint32_t>(record);
    row.key = static_cast<std::uint8_t>(key);
    counted.push_back(row);
  }
  return counted;
}

int NetworkStore::eraseUser(std::int64_t userId) {
  soci::session sql(database_.pool());
  belonging::WriteTransaction transaction(sql, database_.dialect());
  soci::statement memberships =
      (sql.prepare << "DELETE FROM network_memberships WHERE user_id = :u", soci::use(userId));
  memberships.execute(true);
  soci::statement sponsorships =
      (sql.prepare << "UPDATE networks SET sponsor_user_id = 0 WHERE sponsor_user_id = :u", soci::use(userId));
  sponsorships.execute(true);
  // Erasure takes the records too: they say which networks the person ever joined. Rejoining
  // later draws a new key, which is the one way to a new record, and needs erasing everything.
  sql << "DELETE FROM network_records WHERE user_id = :u", soci::use(userId);
  transaction.commit();
  return static_cast<int>(memberships.get_affected_rows() + sponsorships.get_affected_rows());
}

std::vector<Post> NetworkStore::posts(std::int64_t networkId, const std::string& today, int limit) {
  soci::session sql(database_.pool());
  // Announcements newest first, then events from today on, soonest first.
  return readAll<PostRow>(
      sql,
      std::string("SELECT ") + kPostColumns +
          " FROM network_posts WHERE network_id = :n AND (kind = 'announcement' OR event_date >= :today) "
          "ORDER BY kind, CASE WHEN kind = 'event' THEN event_date ELSE '' END, start_time, id DESC LIMIT :limit",
      [&](soci::statement& statement) {
        statement.exchange(soci::use(networkId));
        statement.exchange(soci::use(today));
        statement.exchange(soci::use(limit));
      });
}

std::vector<std::pair<Network, Post>> NetworkStore::upcomingEventsFor(std::int64_t userId, const std::string& today,
                                                                       int limit) {
  std::vector<std::pair<Network, Post>> events;
  std::vector<Post> posts;
  {
    soci::session sql(database_.pool());
    posts = readAll<PostRow>(
        sql,
        "SELECT p.id, p.network_id, p.kind, p.title, p.body, p.event_date, p.start_time, p.end_time, p.place, "
        "p.online_link, p.accessibility, p.posted_on FROM network_posts p JOIN network_memberships m ON "
        "m.network_id = p.network_id JOIN networks n ON n.id = p.network_id WHERE m.user_id = :u AND "
        "n.archived = 0 AND p.kind = 'event' AND p.event_date >= :today ORDER BY p.event_date, p.start_time, p.id "
        "LIMIT :limit",
        [&](soci::statement& statement) {
          statement.exchange(soci::use(userId));
          statement.exchange(soci::use(today));
          statement.exchange(soci::use(limit));
        });
  }
  const auto all = networks(false);
  for (auto& post : posts) {
    for (const auto& network : all) {
      if (network.id == post.networkId) events.emplace_back(network, std::move(post));
    }
  }
  return events;
}

std::int64_t NetworkStore::addPost(const Post& post) {
  soci::session sql(database_.pool());
  std::int64_t id = 0;
  sql << "INSERT INTO network_posts (network_id, kind, title, body, event_date, start_time, end_time, place, "
         "online_link, accessibility, posted_on) VALUES (:n, :k, :t, :b, :d, :s, :e, :p, :o, :a, :on) RETURNING id",
      soci::use(post.networkId), soci::use(post.kind), soci::use(post.title), soci::use(post.body),
      soci::use(post.eventDate), soci::use(post.startTime), soci::use(post.endTime), soci::use(post.place),
      soci::use(post.onlineLink), soci::use(post.accessibility), soci::use(post.postedOn), soci::into(id);
  return id;
}

bool NetworkStore::deletePost(std::int64_t networkId, std::int64_t postId) {
  soci::session sql(database_.pool());
  soci::statement statement =
      (sql.prepare << "DELETE FROM network_posts WHERE id = :i AND network_id = :n", soci::use(postId),
       soci::use(networkId));
  statement.execute(true);
  return statement.get_affected_rows() > 0;
}

std::optional<Publication> NetworkStore::publication(const std::string& measure, const std::string& period) {
  soci::session sql(database_.pool());
  Publication found;
  std::string cells;
  sql << "SELECT published_on, cells FROM network_publications WHERE measure = :m AND period = :p",
      soci::use(measure), soci::use(period), soci::into(found.publishedOn), soci::into(cells);
  if (!sql.got_data()) return std::nullopt;
  found.cells = nlohmann::json::parse(cells);
  return found;
}

void NetworkStore::savePublication(const std::string& measure, const std::string& period,
                                   const Publication& publication) {
  soci::session sql(database_.pool());
  const std::string cells = belonging::jsonText(publication.cells);
  sql << "INSERT INTO network_publications (measure, period, published_on, cells) VALUES (:m, :p, :on, :c) "
         "ON CONFLICT (measure, period) DO UPDATE SET published_on = excluded.published_on, cells = excluded.cells",
      soci::use(measure), soci::use(period), soci::use(publication.publishedOn), soci::use(cells);
}

std::optional<std::pair<std::string, Publication>> NetworkStore::latestPublication(const std::string& measure) {
  auto all = publications(measure);
  if (all.empty()) return std::nullopt;
  return std::move(all.back());
}

std::vector<std::pair<std::string, Publication>> NetworkStore::publications(const std::string& measure) {
  soci::session sql(database_.pool());
  std::vector<std::pair<std::string, Publication>> found;
  std::string period, publishedOn, cells;
  soci::statement statement =
      (sql.prepare << "SELECT period, published_on, cells FROM network_publications WHERE measure = :m ORDER BY period",
       soci::use(measure), soci::into(period), soci::into(publishedOn), soci::into(cells));
  statement.execute();
  while (statement.fetch()) found.emplace_back(period, Publication{publishedOn, nlohmann::json::parse(cells)});
  return found;
}

} // namespace networks
