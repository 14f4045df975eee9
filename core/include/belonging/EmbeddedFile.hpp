#pragma once
// Files compiled into a binary (templates), so a plugin is one self-contained .so.

namespace belonging {

/** One embedded file. Tables end with {nullptr, nullptr}. */
struct EmbeddedFile {
  const char* name; ///< File name without directory or extension, e.g. "list".
  const char* text; ///< The file's contents.
};

} // namespace belonging
