/* The C boundary between the Belonging host and a plugin.
 *
 * A plugin is a shared object exporting one symbol, BELONGING_PLUGIN_ENTRY_SYMBOL, of type
 * belonging_plugin_entry_fn. The host calls it and checks the returned descriptor before it
 * touches any C++ type: a plugin built by another compiler, C++ standard, standard library
 * ABI or sanitizer set would corrupt memory the moment a std::string crossed the boundary.
 *
 * Fields of belonging_plugin_descriptor are only ever appended; struct_size tells the host
 * which fields a plugin knows about. Most authors never use this header directly: the
 * BELONGING_PLUGIN macro in <belonging/Plugin.hpp> fills it in.
 */
#ifndef BELONGING_PLUGIN_ABI_H
#define BELONGING_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Incremented when an existing field or callback changes meaning: the host refuses other majors. */
#define BELONGING_ABI_MAJOR 1
/** Incremented when fields or host services are appended: the host accepts minors up to its own. */
#define BELONGING_ABI_MINOR 3
/** Major and minor packed as (major << 16) | minor. */
#define BELONGING_ABI_VERSION (0x10000u * BELONGING_ABI_MAJOR + BELONGING_ABI_MINOR)
/** The SDK release the headers belong to; part of the build signature. */
#define BELONGING_SDK_VERSION "0.1"

#define BELONGING_STRINGIFY_INNER(x) #x
#define BELONGING_STRINGIFY(x) BELONGING_STRINGIFY_INNER(x)

#if defined(__clang__)
#define BELONGING_COMPILER "clang-" BELONGING_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define BELONGING_COMPILER "gcc-" BELONGING_STRINGIFY(__GNUC__)
#else
#define BELONGING_COMPILER "unknown-compiler"
#endif

#if defined(_GLIBCXX_USE_CXX11_ABI)
#define BELONGING_STDLIB_ABI "libstdc++-cxx11abi-" BELONGING_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define BELONGING_STDLIB_ABI "libc++-" BELONGING_STRINGIFY(_LIBCPP_ABI_VERSION)
#else
#define BELONGING_STDLIB_ABI "stdlib-unknown"
#endif

/* AddressSanitizer changes object layout and allocator; mixing instrumented and plain code
 * in one process reports false errors or crashes, so it is part of the signature. */
#if defined(__SANITIZE_ADDRESS__)
#define BELONGING_SANITIZERS "asan"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BELONGING_SANITIZERS "asan"
#endif
#endif
#ifndef BELONGING_SANITIZERS
#define BELONGING_SANITIZERS "plain"
#endif

#ifdef __cplusplus
#define BELONGING_CPP_STANDARD BELONGING_STRINGIFY(__cplusplus)
#else
#define BELONGING_CPP_STANDARD "c"
#endif

/** What must be equal between host and plugin for C++ types to cross the boundary safely. */
#define BELONGING_BUILD_SIGNATURE                                                                  \
  BELONGING_COMPILER ";c++" BELONGING_CPP_STANDARD ";" BELONGING_STDLIB_ABI                        \
                     ";" BELONGING_SANITIZERS ";sdk-" BELONGING_SDK_VERSION

/** Opaque to C; a belonging::Host in C++ once the descriptor checks have passed. */
typedef struct belonging_host belonging_host;

/** Called once, in dependency order. Returns 0 on success; otherwise writes a message. */
typedef int (*belonging_load_fn)(belonging_host* host, char* error, size_t errorSize);
/** Called once at shutdown, in reverse load order. Must not throw. */
typedef void (*belonging_unload_fn)(void);

/** What a plugin tells the host about itself. Append-only. */
typedef struct belonging_plugin_descriptor {
  uint32_t abi_version;        /**< BELONGING_ABI_VERSION the plugin was built with. */
  uint32_t struct_size;        /**< sizeof(belonging_plugin_descriptor) at build time. */
  const char* name;            /**< Unique plugin name, as listed in the config. */
  const char* version;         /**< The plugin's own version, e.g. "1.2.0". */
  const char* build_signature; /**< BELONGING_BUILD_SIGNATURE at build time. */
  belonging_load_fn load;      /**< Registers routes, migrations, templates and the rest. */
  belonging_unload_fn unload;  /**< Releases what load acquired; may be null. */
  const char* dependencies;    /**< Comma-separated names of plugins that must load first; "" for none. */
} belonging_plugin_descriptor;

/** The single exported entry point of a plugin. */
typedef const belonging_plugin_descriptor* (*belonging_plugin_entry_fn)(void);

#define BELONGING_PLUGIN_ENTRY_SYMBOL "belonging_plugin_entry"

#ifdef __cplusplus
}
#endif

#endif /* BELONGING_PLUGIN_ABI_H */
