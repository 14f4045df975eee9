#include "CoreSchema.hpp"

#include "PublicationStore.hpp"
#include "ReleaseLedger.hpp"

namespace belonging {

std::vector<Migration> coreMigrations() {
  std::vector<Migration> migrations{{"0001_accounts_sessions_audit", R"SQL(
CREATE TABLE users (
  id ${AUTO_ID},
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  password_hash TEXT,
  is_demo INTEGER NOT NULL DEFAULT 0,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE TABLE user_roles (
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  scope TEXT NOT NULL DEFAULT '',
  granted_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, role, scope)
);
CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE TABLE api_tokens (
  id ${AUTO_ID},
  token_hash TEXT NOT NULL UNIQUE,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  label TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE TABLE signin_throttle (
  throttle_key TEXT PRIMARY KEY,
  window_start BIGINT NOT NULL,
  failures INTEGER NOT NULL
);
CREATE TABLE audit_log (
  id ${AUTO_ID},
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  detail TEXT NOT NULL,
  request_id TEXT NOT NULL
);
CREATE TABLE core_secrets (
  name TEXT PRIMARY KEY,
  secret TEXT NOT NULL
);
)SQL", std::nullopt}};
  for (auto& migration : ReleaseLedger::migrations()) migrations.push_back(std::move(migration));
  for (auto& migration : PublicationStore::migrations()) migrations.push_back(std::move(migration));
  return migrations;
}

} // namespace belonging
