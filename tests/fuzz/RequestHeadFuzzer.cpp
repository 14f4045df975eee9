// Fuzzes the request-head scanner (core/src/RequestHead.cpp) that frames every request as its
// bytes arrive, before any worker thread or cpp-httplib sees it: where the head ends,
// Content-Length and Transfer-Encoding. A framing mistake here is request smuggling or a hung
// connection, so besides not crashing it must agree with itself however the bytes arrive.
// Input: two bytes choosing the head limit, then the bytes received.

#include "FuzzSupport.hpp"
#include "RequestHead.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

using belonging::RequestHead;
using belonging::fuzz::check;

namespace {

bool sameFraming(const RequestHead& a, const RequestHead& b) {
  return a.state == b.state && a.headBytes == b.headBytes && a.contentLength == b.contentLength &&
         a.chunked == b.chunked && a.expectContinue == b.expectContinue;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t maxHeadBytes = 64 + (static_cast<std::size_t>(data[0]) << 8 | data[1]) % 16320;
  const std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);
  const RequestHead head = belonging::scanRequestHead(bytes, maxHeadBytes);

  switch (head.state) {
  case RequestHead::State::Incomplete:
    check(bytes.size() < maxHeadBytes, "Incomplete only while under the limit");
    check(bytes.find("\r\n\r\n") == std::string_view::npos, "Incomplete only without a blank line");
    return 0;
  case RequestHead::State::TooLarge:
    check(bytes.size() >= maxHeadBytes, "TooLarge only at the limit");
    return 0;
  case RequestHead::State::Malformed:
    check(!head.error.empty(), "Malformed says why");
    break;
  case RequestHead::State::Complete:
    check(head.headBytes >= 4 && head.headBytes <= bytes.size() && head.headBytes <= maxHeadBytes,
          "the head fits in what was received and in the limit");
    check(bytes.substr(head.headBytes - 4, 4) == "\r\n\r\n", "the head ends with the blank line");
    check(bytes.substr(0, head.headBytes - 4).find("\r\n\r\n") == std::string_view::npos, "at the first blank line");
    check(!(head.chunked && head.contentLength > 0), "never both a length and chunked");
    check(head.error.empty(), "no error when Complete");
    break;
  }

  // However the bytes were split into reads, the answer is the same: the body that follows the
  // head changes nothing, and no shorter prefix is already a whole (or broken) head.
  const std::size_t headEnd = bytes.find("\r\n\r\n") + 4;
  if (head.state == RequestHead::State::Complete) {
    check(sameFraming(belonging::scanRequestHead(bytes.substr(0, head.headBytes), maxHeadBytes), head),
          "bytes after the head do not change its framing");
  } else {
    check(belonging::scanRequestHead(bytes.substr(0, headEnd), maxHeadBytes).state == RequestHead::State::Malformed,
          "bytes after the head do not change a refusal");
  }
  for (const std::size_t cut : {headEnd - 1, headEnd / 2}) {
    check(belonging::scanRequestHead(bytes.substr(0, cut), maxHeadBytes).state == RequestHead::State::Incomplete,
          "a prefix of a head is Incomplete");
  }
  return 0;
}
