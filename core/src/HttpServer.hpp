#pragma once
// The HTTP front: cpp-httplib tuned as stack-notes measured (TCP_NODELAY, a sized pool), and
// the middleware every request passes through: limits, security headers, identity, CSRF,
// permission checks, error pages and the access log.

#include "AnonymousTally.hpp"
#include "Application.hpp"

#include <functional>
#include <memory>

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace belonging {

class HttpServer {
public:
  explicit HttpServer(Application& application);
  ~HttpServer();

  /**
   * Binds to host:port (0 picks a free port), calls `ready` with the bound port, then serves
   * until stop(). Throws if it cannot bind.
   */
  void run(const std::string& host, int port, const std::function<void(int)>& ready);
  void stop();

private:
  /** Matches the route and sets up the thread's per-request state. */
  void beginRequest(const httplib::Request& raw);
  void dispatch(const httplib::Request& raw, httplib::Response& out);
  void authenticate(const httplib::Request& raw, Request& request, Response& response,
                    std::string& sessionId);
  std::string clientAddress(const httplib::Request& raw) const;
  /** The Identity of an enabled user with these roles, permissions resolved from the registry. */
  Identity identityOf(std::int64_t userId, std::string username, std::string displayName,
                      std::vector<RoleGrant> roles) const;
  void logAccess(const httplib::Request& raw, const httplib::Response& out);
  void writeResponse(const Request& request, Response& response, httplib::Response& out);

  Application& application_;
  /** Read once before any worker thread starts, so threads share it without locking. */
  const std::string secret_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<AccessLog> accessLog_;
  /** Declared after accessLog_, so it is destroyed first and can still write the partial day. */
  std::unique_ptr<AnonymousTally> anonymousTally_;
  /** How often ended days are looked for: a day's counts appear within this of midnight UTC. */
  static constexpr std::chrono::minutes kTallyCheckInterval{1};
  int listeningSocket_ = -1;
  static constexpr int kListenBacklog = 1024;
};

} // namespace belonging
