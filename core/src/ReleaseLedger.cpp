#include "ReleaseLedger.hpp"

#include "Crypto.hpp"
#include "SociDatabase.hpp"

#include <roaring/roaring.h>
#include <soci/soci.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace belonging {
namespace {

struct RoaringDeleter {
  void operator()(roaring_bitmap_t* bitmap) const { roaring_bitmap_free(bitmap); }
};
using RoaringBitmap = std::unique_ptr<roaring_bitmap_t, RoaringDeleter>;

/** A population's records in the forms the ledger compares and stores. */
struct RecordSet {
  std::uint64_t cardinality = 0;
  std::string digest;
  RoaringBitmap bitmap;
};

RecordSet makeRecordSet(std::vector<std::uint32_t> records) {
  std::sort(records.begin(), records.end());
  records.erase(std::unique(records.begin(), records.end()), records.end());
  // The digest is over the sorted ids rather than the Roaring serialization, whose container
  // choices could change between library versions while the set stays the same.
  std::string canonical;
  canonical.reserve(records.size() * 4);
  for (const std::uint32_t record : records) {
    for (int shift = 0; shift < 32; shift += 8) canonical.push_back(static_cast<char>((record >> shift) & 0xffU));
  }
  RecordSet set;
  set.cardinality = records.size();
  set.digest = crypto::sha256Hex(canonical);
  set.bitmap.reset(roaring_bitmap_create());
  if (!set.bitmap) throw std::bad_alloc();
  roaring_bitmap_add_many(set.bitmap.get(), records.size(), records.data());
  roaring_bitmap_run_optimize(set.bitmap.get());
  return set;
}

std::string serialize(const roaring_bitmap_t* bitmap) {
  // Text rather than a blob: SOCI binds blobs differently on SQLite and PostgreSQL.
  std::string bytes(roaring_bitmap_portable_size_in_bytes(bitmap), '\0');
  bytes.resize(roaring_bitmap_portable_serialize(bitmap, bytes.data()));
  return crypto::base64UrlEncode(bytes);
}

DatabaseError corruptLedger(const std::string& measure, const std::string& period, long long id,
                            const std::string& problem) {
  return DatabaseError("the release ledger of measure \"" + measure + "\", period \"" + period +
                       "\" is corrupt: release " + std::to_string(id) + " " + problem);
}

RoaringBitmap deserialize(const std::string& text, long long storedCardinality, const std::string& measure,
                          const std::string& period, long long id) {
  std::string bytes;
  try {
    bytes = crypto::base64UrlDecode(text);
  } catch (const std::invalid_argument&) {
    throw corruptLedger(measure, period, id, "has records that are not base64");
  }
  // Too short for the format's cookie: refused here because the library would also print to stderr.
  RoaringBitmap bitmap(bytes.size() < 4 ? nullptr
                                        : roaring_bitmap_portable_deserialize_safe(bytes.data(), bytes.size()));
  if (!bitmap) throw corruptLedger(measure, period, id, "has records that are not a Roaring bitmap");
  if (storedCardinality < 0 ||
      roaring_bitmap_get_cardinality(bitmap.get()) != static_cast<std::uint64_t>(storedCardinality)) {
    throw corruptLedger(measure, period, id, "has a cardinality that does not match its records");
  }
  return bitmap;
}

std::string twoDigits(unsigned value) {
  return {static_cast<char>('0' + value / 10), static_cast<char>('0' + value % 10)};
}

/** Today in UTC as YYYY-MM-DD: a release needs no finer time, and a finer one could date a record. */
std::string today() {
  const std::chrono::year_month_day date{std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now())};
  return std::to_string(static_cast<int>(date.year())) + "-" + twoDigits(static_cast<unsigned>(date.month())) +
         "-" + twoDigits(static_cast<unsigned>(date.day()));
}

void lockMeasure(soci::session& sql, const std::string& measure, const std::string& period) {
  // A write before any read: on PostgreSQL the updated row stays locked until commit, so
  // concurrent releases of one measure and period queue here and each then reads what the
  // previous one recorded; on SQLite it takes the write lock now, where a deferred transaction
  // that read first would fail with SQLITE_BUSY when upgrading to write.
  sql << "INSERT INTO disclosure_release_locks (measure, period, releases) VALUES (:m, :p, 0) "
         "ON CONFLICT DO NOTHING",
      soci::use(measure), soci::use(period);
  sql << "UPDATE disclosure_release_locks SET releases = releases + 1 WHERE measure = :m AND period = :p",
      soci::use(measure), soci::use(period);
}

} // namespace

ReleaseLedger::ReleaseLedger(Database& database) : database_(database) {}

std::vector<Migration> ReleaseLedger::migrations() {
  // records is Roaring's portable serialization in base64url; released_on is a date only.
  // UNIQUE(measure, period, digest) keeps a re-released identical set to one row, and the
  // cardinality index finds the only sets that can be within k-1: |A xor B| >= ||A| - |B||.
  return {{"0002_release_ledger", R"SQL(
CREATE TABLE disclosure_releases (
  id ${AUTO_ID},
  measure TEXT NOT NULL,
  period TEXT NOT NULL,
  definition TEXT NOT NULL,
  cardinality BIGINT NOT NULL,
  digest TEXT NOT NULL,
  records TEXT NOT NULL,
  released_on TEXT NOT NULL,
  UNIQUE (measure, period, digest)
);
CREATE INDEX disclosure_releases_by_size ON disclosure_releases(measure, period, cardinality);
CREATE TABLE disclosure_release_locks (
  measure TEXT NOT NULL,
  period TEXT NOT NULL,
  releases BIGINT NOT NULL,
  PRIMARY KEY (measure, period)
);
)SQL", std::nullopt}};
}

void ReleaseLedger::release(const std::string& measure, const std::string& period, int threshold,
                            const std::vector<LedgerPopulation>& populations, const Decision& decide, std::vector<bool>* published) {
  if (threshold < 1) throw std::invalid_argument("the release ledger needs a threshold of at least 1");
  std::vector<RecordSet> sets;
  sets.reserve(populations.size());
  for (const LedgerPopulation& population : populations) sets.push_back(makeRecordSet(population.records));
  const long long within = threshold - 1;

  soci::session sql(database_.pool());
  soci::transaction transaction(sql);
  // The ledger spans periods: a month's (or a wave's) release is compared with every earlier
  // release of the measure, or a new period would publish one leaver's change as Nov 39, Dec 38.
  // So the lock is per measure; "*" is its row in the lock table.
  lockMeasure(sql, measure, "*");

  // Only ids, sizes and digests at first: most sets are refreshed unchanged (found by digest)
  // or have no neighbour by size, so their stored records are never fetched.
  long long id = 0, cardinality = 0, low = 0, high = 0;
  std::string digest, stored;
  soci::statement neighbours =
      (sql.prepare << "SELECT id, cardinality, digest FROM disclosure_releases WHERE measure = :m AND "
                      "cardinality >= :low AND cardinality <= :high",
       soci::use(measure), soci::use(low), soci::use(high), soci::into(id),
       soci::into(cardinality), soci::into(digest));
  soci::statement records =
      (sql.prepare << "SELECT records FROM disclosure_releases WHERE id = :id", soci::use(id), soci::into(stored));
  std::unordered_map<long long, RoaringBitmap> loaded;

  std::vector<bool> differencing(sets.size(), false), alreadyRecorded(sets.size(), false);
  for (std::size_t i = 0; i < sets.size(); ++i) {
    const auto size = static_cast<long long>(sets[i].cardinality);
    low = size - within;
    high = size + within;
    std::vector<std::pair<long long, long long>> candidates;
    neighbours.execute();
    while (neighbours.fetch()) {
      if (digest == sets[i].digest) alreadyRecorded[i] = true;
      candidates.emplace_back(id, cardinality);
    }
    // Publishing exactly what was published before reveals nothing new, whatever its neighbours.
    if (alreadyRecorded[i]) continue;
    for (const auto& [candidate, candidateCardinality] : candidates) {
      auto found = loaded.find(candidate);
      if (found == loaded.end()) {
        id = candidate;
        records.execute(true);
        if (!records.got_data()) throw corruptLedger(measure, period, candidate, "vanished while locked");
        found = loaded.emplace(candidate, deserialize(stored, candidateCardinality, measure, period, candidate)).first;
      }
      const std::uint64_t apart = roaring_bitmap_xor_cardinality(sets[i].bitmap.get(), found->second.get());
      if (apart >= 1 && apart <= static_cast<std::uint64_t>(within)) {
        differencing[i] = true;
        break;
      }
    }
  }

  if (published) *published = alreadyRecorded;
  const std::vector<bool> released = decide(differencing);
  if (released.size() != populations.size()) {
    throw std::logic_error("the release decision for measure \"" + measure + "\", period \"" + period +
                           "\" answered for " + std::to_string(released.size()) + " populations, not " +
                           std::to_string(populations.size()));
  }

  const std::string releasedOn = today();
  std::unordered_set<std::string> recordedNow;
  for (std::size_t i = 0; i < sets.size(); ++i) {
    if (!released[i] || sets[i].cardinality == 0 || alreadyRecorded[i]) continue;
    if (!recordedNow.insert(sets[i].digest).second) continue; // The same set twice in one release.
    const auto size = static_cast<long long>(sets[i].cardinality);
    const std::string serialized = serialize(sets[i].bitmap.get());
    sql << "INSERT INTO disclosure_releases (measure, period, definition, cardinality, digest, records, "
           "released_on) VALUES (:m, :p, :d, :c, :h, :r, :o)",
        soci::use(measure), soci::use(period), soci::use(populations[i].definition), soci::use(size),
        soci::use(sets[i].digest), soci::use(serialized), soci::use(releasedOn);
  }
  transaction.commit();
}

std::size_t ReleaseLedger::recordedCount(const std::string& measure, const std::string& period) {
  soci::session sql(database_.pool());
  long long count = 0;
  sql << "SELECT COUNT(*) FROM disclosure_releases WHERE measure = :m AND period = :p", soci::use(measure),
      soci::use(period), soci::into(count);
  return static_cast<std::size_t>(count);
}

} // namespace belonging
