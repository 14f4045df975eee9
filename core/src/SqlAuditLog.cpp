#include "SqlAuditLog.hpp"

#include <soci/soci.h>

#include <stdexcept>

namespace belonging {

void SqlAuditLog::record(const Request& request, std::string_view action, std::string_view target,
                         std::string_view detail) {
  if (request.anonymous) {
    throw std::logic_error("the audit log is never written on anonymous routes (" +
                           std::string(action) + ")");
  }
  const std::string actor = request.user ? request.user->username : "signed-out";
  recordAs(actor, action, target, detail, request.requestId);
}

void SqlAuditLog::recordAs(std::string_view actor, std::string_view action, std::string_view target,
                           std::string_view detail, std::string_view requestId) {
  const std::string actorText(actor), actionText(action), targetText(target), detailText(detail),
      requestText(requestId);
  const std::int64_t now = unixNow();
  soci::session sql(database_.pool());
  sql << "INSERT INTO audit_log (at, actor, action, target, detail, request_id) VALUES (:a, :b, "
         ":c, :d, :e, :f)",
      soci::use(now), soci::use(actorText), soci::use(actionText), soci::use(targetText),
      soci::use(detailText), soci::use(requestText);
}

std::vector<AuditEntry> SqlAuditLog::recent(int limit, int offset) {
  soci::session sql(database_.pool());
  std::vector<AuditEntry> entries;
  soci::rowset<soci::row> rows =
      (sql.prepare << "SELECT at, actor, action, target, detail, request_id FROM audit_log ORDER "
                      "BY id DESC LIMIT :l OFFSET :o",
       soci::use(limit), soci::use(offset));
  for (const auto& row : rows) {
    entries.push_back({row.get<long long>(0), row.get<std::string>(1), row.get<std::string>(2),
                       row.get<std::string>(3), row.get<std::string>(4), row.get<std::string>(5)});
  }
  return entries;
}

} // namespace belonging
