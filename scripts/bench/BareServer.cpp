// A bare cpp-httplib server for scripts/bench/http: serves one file from memory on GET /, with
// the same server tuning as Belonging's HttpServer, so the benchmark can compare the portal's
// signed-in home page against the cost of the HTTP library alone.
// Usage: belonging_bench_bare BODYFILE   (prints "ready PORT" once listening on 127.0.0.1)

#include <httplib.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s BODYFILE\n", argv[0]);
    return 2;
  }
  std::ifstream file(argv[1], std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "belonging_bench_bare: cannot read %s\n", argv[1]);
    return 1;
  }
  const std::string body{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};

  httplib::Server server;
  server.set_tcp_nodelay(true);
  server.new_task_queue = [] { return new httplib::ThreadPool(64); };
  server.set_keep_alive_max_count(1000);
  server.set_keep_alive_timeout(5);
  server.Get("/", [&body](const httplib::Request&, httplib::Response& response) {
    response.set_content(body, "text/html; charset=utf-8");
  });

  const int port = server.bind_to_any_port("127.0.0.1");
  if (port < 0) {
    std::fprintf(stderr, "belonging_bench_bare: cannot bind 127.0.0.1\n");
    return 1;
  }
  std::printf("ready %d\n", port);
  std::fflush(stdout);
  return server.listen_after_bind() ? 0 : 1;
}
