// The pure pieces of issue 12's input boundary: request framing, UTF-8 text, safe redirects.

#include "RequestHead.hpp"
#include "Utf8.hpp"

#include <belonging/Response.hpp>

#include <catch2/catch.hpp>

using belonging::RequestHead;
using belonging::scanRequestHead;
using State = RequestHead::State;

TEST_CASE("a request head is whole only at its blank line, and framed strictly", "[core][http]") {
  CHECK(scanRequestHead("GET / HTTP/1.1\r\nHost: x\r\n", 8192).state == State::Incomplete);
  const auto get = scanRequestHead("GET / HTTP/1.1\r\nHost: x\r\n\r\nNEXT", 8192);
  CHECK(get.state == State::Complete);
  CHECK(get.headBytes == 27);
  CHECK(get.contentLength == 0);
  const auto post = scanRequestHead("POST /a HTTP/1.1\r\ncontent-LENGTH:  12 \r\n\r\n", 8192);
  CHECK(post.state == State::Complete);
  CHECK(post.contentLength == 12);
  CHECK(scanRequestHead("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 8192).chunked);
  CHECK(scanRequestHead("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", 8192).expectContinue);
  CHECK(scanRequestHead("GET / HTTP/1.1\r\nX: " + std::string(9000, 'a'), 8192).state == State::TooLarge);
  CHECK(scanRequestHead("GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n", 8192).state == State::TooLarge);
  for (const char* bad : {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                          "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                          "POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n",
                          "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
                          "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                          "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                          "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
                          "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
                          "GET / HTTP/1.1\r\nHost: x\ny: z\r\n\r\n",
                          "GET / HTTP/1.1\r\n: x\r\n\r\n",
                          "\r\n\r\n"}) {
    INFO(bad);
    CHECK(scanRequestHead(bad, 8192).state == State::Malformed);
  }
  const std::string nul("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26);
  CHECK(scanRequestHead(nul, 8192).state == State::Malformed);
}

TEST_CASE("text must be UTF-8 without control characters", "[core][http]") {
  using belonging::utf8::isValidText;
  CHECK(isValidText(""));
  CHECK(isValidText("Plain text, with a tab\there\r\nand lines"));
  CHECK(isValidText("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8f\xb3\xef\xb8\x8f\xe2\x80\x8d\xf0\x9f\x8c\x88"));
  for (const std::string& bad : {std::string("\xff"), std::string("\xc0\xaf"), std::string("\xe0\x80\xaf"),
                                std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"), std::string("\xc3"),
                                std::string("a\x1b[31m"), std::string("a\x7f"), std::string("a\0b", 3)}) {
    CHECK_FALSE(isValidText(bad));
  }
}

TEST_CASE("only local paths are safe to redirect to", "[core][http]") {
  using belonging::isSafeLocalPath;
  for (const char* good : {"/", "/networks/lgbtq", "/signin?next=%2Fnetworks", "/a/b#c"}) CHECK(isSafeLocalPath(good));
  for (const char* bad : {"", "networks", "//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/evil",
                          "/\r\nSet-Cookie: a=b", "https://evil.example/", "javascript:alert(1)", "/a\\b", "/a b",
                          "/caf\xc3\xa9"}) {
    INFO(bad);
    CHECK_FALSE(isSafeLocalPath(bad));
  }
  CHECK(belonging::safeLocalPath("//evil", "/home") == "/home");
  belonging::Response response;
  response.redirect("/\t/evil.example/");
  CHECK(response.headers.back().second == "/");
}
