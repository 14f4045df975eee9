#include "PublicationStore.hpp"

#include <soci/soci.h>

#include <ctime>
#include <stdexcept>

namespace belonging {

namespace {

std::optional<Publication> readOne(soci::session& sql, const std::string& key) {
  std::string content;
  long long publishedAt = 0;
  soci::indicator present = soci::i_null;
  sql << "SELECT content, published_at FROM disclosure_publications WHERE publication_key = :k", soci::into(content, present),
      soci::into(publishedAt), soci::use(key);
  if (!sql.got_data() || present != soci::i_ok) return std::nullopt;
  return Publication{key, static_cast<std::int64_t>(publishedAt), nlohmann::json::parse(content)};
}

} // namespace

PublicationStore::PublicationStore(Database& database) : database_(database) {}

std::vector<Migration> PublicationStore::migrations() {
  // content is the JSON as first stored: served as it is, byte for byte, every time after.
  return {{"0010_publications", R"SQL(
CREATE TABLE disclosure_publications (
  publication_key TEXT PRIMARY KEY,
  published_at BIGINT NOT NULL,
  content TEXT NOT NULL
);
)SQL", std::nullopt}};
}

Publication PublicationStore::once(const std::string& key, const std::function<nlohmann::json()>& compute) {
  if (key.empty()) throw std::invalid_argument("a publication needs a key");
  {
    soci::session sql(database_.pool());
    if (auto found = readOne(sql, key)) return std::move(*found);
  }
  const nlohmann::json content = compute();
  if (!content.is_object()) throw std::invalid_argument("publication " + key + " must be a JSON object");
  const std::string text = content.dump();
  const long long now = static_cast<long long>(std::time(nullptr));
  soci::session sql(database_.pool());
  // Another instance may have stored the same key meanwhile: the first stays, and is returned.
  sql << "INSERT INTO disclosure_publications (publication_key, published_at, content) VALUES (:k, :t, :c) "
         "ON CONFLICT (publication_key) DO NOTHING",
      soci::use(key), soci::use(now), soci::use(text);
  auto stored = readOne(sql, key);
  if (!stored) throw std::runtime_error("publication " + key + " was stored but cannot be read back");
  return std::move(*stored);
}

std::optional<Publication> PublicationStore::find(const std::string& key) {
  soci::session sql(database_.pool());
  return readOne(sql, key);
}

std::optional<Publication> PublicationStore::latest(const std::string& prefix) {
  soci::session sql(database_.pool());
  std::string key;
  soci::indicator present = soci::i_null;
  // substr counts characters, not bytes, on both engines; LIKE would take '%' and '_' as patterns.
  int length = 0;
  for (const char c : prefix) length += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  sql << "SELECT publication_key FROM disclosure_publications WHERE substr(publication_key, 1, :n) = :p "
         "ORDER BY published_at DESC, publication_key DESC LIMIT 1",
      soci::into(key, present), soci::use(length), soci::use(prefix);
  if (!sql.got_data() || present != soci::i_ok) return std::nullopt;
  return readOne(sql, key);
}

} // namespace belonging
