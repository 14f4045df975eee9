#pragma once
// Reading a request's head as its bytes arrive, before any worker thread is spent on it: the
// connection front buffers a request until this says it is whole, so a client that sends one
// byte every few seconds (slowloris) or nothing at all costs a buffer, never a thread.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace belonging {

/** What the bytes received so far say about the request they start. */
struct RequestHead {
  enum class State {
    Incomplete, ///< No blank line yet, and still within the size limit.
    Complete,   ///< The head is whole; its framing fields below are set.
    TooLarge,   ///< No blank line within the limit: 431.
    Malformed,  ///< Framing that would let two parsers disagree (smuggling) or plain garbage: 400.
  };
  State state = State::Incomplete;
  std::size_t headBytes = 0;       ///< Bytes up to and including the blank line.
  std::uint64_t contentLength = 0; ///< 0 when absent.
  bool chunked = false;            ///< Transfer-Encoding: chunked (the body's length is unknown).
  bool expectContinue = false;     ///< Expect: 100-continue (the client waits before the body).
  std::string error;               ///< Why, when Malformed.
};

/**
 * Scans `bytes` (the start of a request) for a complete head of at most `maxHeadBytes`.
 * Strict where laxness lets a proxy and this server frame a request differently: bare CR or
 * LF, obsolete line folding, a space before the colon, duplicate or non-numeric
 * Content-Length, and Content-Length beside Transfer-Encoding are all Malformed.
 */
RequestHead scanRequestHead(std::string_view bytes, std::size_t maxHeadBytes);

} // namespace belonging
