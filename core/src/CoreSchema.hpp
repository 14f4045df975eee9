#pragma once
// The core's own tables: accounts, roles, sessions, API tokens, throttling, audit, secrets.

#include <belonging/Registrar.hpp>

#include <vector>

namespace belonging {
std::vector<Migration> coreMigrations();
}
