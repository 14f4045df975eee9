#pragma once
// The audit log of privileged actions, in the identified database.

#include "SociDatabase.hpp"

#include <belonging/Host.hpp>

namespace belonging {

class SqlAuditLog final : public AuditLog {
public:
  explicit SqlAuditLog(SociDatabase& database) : database_(database) {}
  /** Refuses anonymous routes: an audit row would tie a time and a user to an anonymous act. */
  void record(const Request& request, std::string_view action, std::string_view target,
              std::string_view detail = {}) override;
  std::vector<AuditEntry> recent(int limit, int offset) override;
  /** For actions outside HTTP (the CLI); `actor` says who, e.g. "cli". */
  void recordAs(std::string_view actor, std::string_view action, std::string_view target,
                std::string_view detail = {}, std::string_view requestId = {});

private:
  SociDatabase& database_;
};

} // namespace belonging
