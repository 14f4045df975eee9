#include "HttpServer.hpp"

#include "ConnectionFront.hpp"
#include "Cookies.hpp"
#include "Crypto.hpp"
#include "UrlEncoding.hpp"
#include "Utf8.hpp"

#include <httplib.h>

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <optional>

namespace belonging {
namespace {

/** Per-request state the pre-routing hook, the handler and the logger share (one thread). */
struct RequestContext {
  /** beginRequest ran for this request: cpp-httplib skips the pre-routing hook for unparsable ones. */
  bool begun = false;
  std::chrono::steady_clock::time_point started;
  std::string requestId;
  const RegisteredRoute* route = nullptr;
  RouteMatch match;
  bool anonymous = false;
  std::int64_t userId = 0;
  std::string newPresession; ///< Set on the response only if it is a page (which may hold a form).
};
thread_local RequestContext context;

constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'";

bool isStateChanging(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

std::string lowercase(std::string text) {
  // ASCII only, as header names are; std::tolower consults the locale for every character.
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

/**
 * A request id: unique, not secret (it is shown to users to quote). A per-thread random
 * prefix and counter, because RAND_bytes on every request cost a tenth of a page's CPU.
 */
std::string nextRequestId() {
  thread_local const std::string prefix = crypto::randomToken(6);
  thread_local std::uint64_t counter = 0;
  return prefix + std::to_string(++counter);
}

std::string encodeFlash(const std::vector<Flash>& flash, const std::string& secret) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& message : flash) list.push_back({message.kind, message.text});
  const std::string payload = crypto::base64UrlEncode(jsonText(list));
  return payload + "." + crypto::hmacSha256Hex(secret, "flash:" + payload);
}

std::vector<Flash> decodeFlash(const std::string& cookie, const std::string& secret) {
  const auto dot = cookie.find('.');
  if (dot == std::string::npos) return {};
  const std::string payload = cookie.substr(0, dot);
  if (!crypto::constantTimeEquals(cookie.substr(dot + 1), crypto::hmacSha256Hex(secret, "flash:" + payload))) {
    return {};
  }
  std::vector<Flash> flash;
  try {
    for (const auto& item : nlohmann::json::parse(crypto::base64UrlDecode(payload))) {
      flash.push_back({item.at(0).get<std::string>(), item.at(1).get<std::string>()});
    }
  } catch (const std::exception&) {
    return {};
  }
  return flash;
}

/** Whether a header may be sent as is: a token name, and no CR, LF or NUL to split the response. */
bool isSafeHeader(const std::string& name, const std::string& value) {
  if (name.empty()) return false;
  for (const char c : name) {
    const bool token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!token) return false;
  }
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) return false;
  }
  return true;
}

/** The first query or form field whose name or value is not text (UTF-8), for a 400 that names it. */
std::optional<std::string> firstBadField(const std::multimap<std::string, std::string, std::less<>>& fields) {
  for (const auto& [name, value] : fields) {
    if (!utf8::isValidText(name)) return std::string("a field name");
    if (!utf8::isValidText(value)) return "\u201c" + name + "\u201d";
  }
  return std::nullopt;
}

/** Hands every accepted socket to the connection front, which calls back for whole requests. */
class InlineTaskQueue final : public httplib::TaskQueue {
public:
  explicit InlineTaskQueue(ConnectionFront& front) : front_(front) {}
  // The accept loop enqueues only "serve this socket", which adopt() does without blocking.
  void enqueue(std::function<void()> task) override { task(); }
  void shutdown() override { front_.stop(); }

private:
  ConnectionFront& front_;
};

class FrontedServer final : public httplib::Server {
public:
  FrontedServer(const ConnectionLimits& limits, ConnectionFront::Exempt exempt)
      : front_(limits,
               [this](httplib::Stream& stream, bool& close) {
                 return process_request(stream, false, close, [](httplib::Request&) {});
               },
               std::move(exempt)) {
    new_task_queue = [this] { return new InlineTaskQueue(front_); };
  }

private:
  bool process_and_close_socket(socket_t socket) override {
    front_.adopt(socket);
    return true;
  }

  ConnectionFront front_;
};

} // namespace

HttpServer::HttpServer(Application& application)
    : application_(application), secret_(application.readSecret()) {
  const ServerConfig& settings = application_.config.server;
  const bool tls = !settings.tlsCertificate.empty();
  if (tls) {
    server_ = std::make_unique<httplib::SSLServer>(settings.tlsCertificate.c_str(),
                                                   settings.tlsPrivateKey.c_str());
    if (!server_->is_valid()) {
      throw std::runtime_error("cannot use the TLS certificate " + settings.tlsCertificate.string() +
                               " and key " + settings.tlsPrivateKey.string());
    }
  } else {
    ConnectionLimits limits;
    limits.workers = settings.threads;
    limits.maxHeadBytes = static_cast<std::size_t>(settings.maxHeaderBytes);
    limits.maxBodyBytes = static_cast<std::size_t>(settings.maxBodyBytes);
    limits.requestTimeout = std::chrono::seconds(settings.requestTimeoutSeconds);
    limits.keepAlive = std::chrono::seconds(settings.keepAliveSeconds);
    limits.maxConnections = static_cast<std::size_t>(settings.maxConnections);
    limits.maxConnectionsPerAddress = static_cast<std::size_t>(settings.maxConnectionsPerAddress);
    // A trusted reverse proxy carries many people's connections: only the total cap applies.
    server_ = std::make_unique<FrontedServer>(limits, [proxies = application_.config.sso.trustedProxies](const std::string& address) {
      return std::find(proxies.begin(), proxies.end(), address) != proxies.end();
    });
  }
  accessLog_ = std::make_unique<AccessLog>(application_.config.accessLog);
  // With the access log off, nothing is ever written, so no thread need look for ended days.
  anonymousTally_ = std::make_unique<AnonymousTally>(
      [log = accessLog_.get()](const std::vector<std::string>& lines) { log->writeLines(lines); }, isoDate,
      accessLog_->enabled() ? std::chrono::milliseconds(kTallyCheckInterval) : std::chrono::milliseconds(0));

  // Nagle's algorithm delays the body behind the headers: ~300 requests/s without this flag.
  server_->set_tcp_nodelay(true);
  if (tls) {
    // The built-in TLS server keeps cpp-httplib's thread per connection (no connection front):
    // production puts nginx in front instead (README, config/nginx).
    const auto threads = static_cast<std::size_t>(settings.threads);
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  }
  // Debian's cpp-httplib is compiled with a listen backlog of 5: bursts of new connections
  // overflow it and wait out a 200 ms SYN retransmit. Keep the listening socket so run()
  // can raise the backlog (listen() again on a listening socket updates it on Linux).
  server_->set_socket_options([this](socket_t socket) {
    int yes = 1;
    setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    listeningSocket_ = socket;
  });
  server_->set_keep_alive_max_count(100000);
  server_->set_keep_alive_timeout(5);
  server_->set_read_timeout(10, 0);
  server_->set_write_timeout(10, 0);
  server_->set_payload_max_length(static_cast<std::size_t>(settings.maxBodyBytes));

  httplib::Headers security{{"Content-Security-Policy", kContentSecurityPolicy},
                            {"X-Content-Type-Options", "nosniff"},
                            {"Referrer-Policy", "no-referrer"},
                            {"X-Frame-Options", "DENY"},
                            {"Cross-Origin-Opener-Policy", "same-origin"},
                            {"Permissions-Policy", "camera=(), microphone=(), geolocation=()"}};
  if (settings.tlsInFront()) {
    security.emplace("Strict-Transport-Security", "max-age=31536000");
  }
  server_->set_default_headers(security);

  if (!settings.staticDir.empty()) {
    server_->set_mount_point("/static", settings.staticDir.string(),
                             {{"Cache-Control", "public, max-age=86400"}});
  }

  server_->set_pre_routing_handler([this](const httplib::Request& raw, httplib::Response& out) {
    beginRequest(raw);
    std::size_t headerBytes = raw.target.size();
    for (const auto& [name, value] : raw.headers) headerBytes += name.size() + value.size() + 4;
    if (headerBytes > static_cast<std::size_t>(application_.config.server.maxHeaderBytes)) {
      out.status = 431;
      out.set_content("Request header fields too large", "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    // Refuse an oversized body from its Content-Length, before reading (or draining) any of it,
    // and close: the unread body must not be parsed as the next request.
    const std::string announced = raw.get_header_value("Content-Length");
    const bool numeric = !announced.empty() && announced.size() <= 18 &&
                         announced.find_first_not_of("0123456789") == std::string::npos;
    if (!announced.empty() &&
        (!numeric || std::stoull(announced) > static_cast<std::uint64_t>(application_.config.server.maxBodyBytes))) {
      out.status = numeric ? 413 : 400;
      out.set_header("Connection", "close");
      ConnectionFront::closeAfterResponse();
      return httplib::Server::HandlerResponse::Handled; // The error handler renders the page.
    }
    // BREACH: a compressed page holding the CSRF token beside reflected text leaks the token
    // byte by byte over TLS. Dynamic responses are never compressed; static files may be.
    if (!raw.path.starts_with("/static/")) const_cast<httplib::Request&>(raw).headers.erase("Accept-Encoding");
    return httplib::Server::HandlerResponse::Unhandled;
  });

  auto handler = [this](const httplib::Request& raw, httplib::Response& out) { dispatch(raw, out); };
  server_->Get(".*", handler);
  server_->Post(".*", handler);
  server_->Put(".*", handler);
  server_->Patch(".*", handler);
  server_->Delete(".*", handler);

  // Errors cpp-httplib raises itself (400 malformed, 413 too large, 404 under /static).
  server_->set_error_handler(httplib::Server::HandlerWithResponse([this](const httplib::Request& raw, httplib::Response& out) {
    if (!context.begun) beginRequest(raw);
    if (!out.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    Request request;
    request.path = raw.path;
    request.requestId = context.requestId;
    request.anonymous = context.anonymous;
    Response response;
    const char* heading = out.status == 413   ? "The request is too large"
                          : out.status == 404 ? "Page not found"
                                              : "The request could not be understood";
    application_.renderer->errorPage(request, response, out.status, heading,
                                     out.status == 413 ? "What you sent is larger than this service accepts."
                                                       : "Check the address or go back and try again.");
    out.set_content(response.body, response.contentType);
    return httplib::Server::HandlerResponse::Handled;
  }));

  server_->set_exception_handler([this](const httplib::Request& raw, httplib::Response& out, std::exception_ptr) {
    if (!context.begun) beginRequest(raw);
    if (context.anonymous) {
      anonymousTally_->error(context.route->route.pattern, raw.method, "unhandled exception in the HTTP layer");
    } else {
      application_.logger.error("unhandled exception in the HTTP layer");
    }
    out.status = 500;
    out.set_content("Internal server error", "text/plain; charset=utf-8");
  });

  server_->set_logger([this](const httplib::Request& raw, const httplib::Response& out) { logAccess(raw, out); });
}

HttpServer::~HttpServer() = default;

void HttpServer::run(const std::string& host, int port, const std::function<void(int)>& ready) {
  const int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound < 0) throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
  if (listeningSocket_ >= 0) ::listen(listeningSocket_, kListenBacklog);
  ready(bound);
  server_->listen_after_bind();
  // Every worker has finished (listen joins them): the partial day is complete, write it now.
  anonymousTally_->writeAll();
}

void HttpServer::beginRequest(const httplib::Request& raw) {
  context = RequestContext{};
  context.begun = true;
  context.started = std::chrono::steady_clock::now();
  context.match = application_.registry.match(raw.method, raw.path);
  context.route = context.match.route;
  context.anonymous = context.route && context.route->route.anonymous;
  if (!context.anonymous) context.requestId = nextRequestId();
}

void HttpServer::stop() { server_->stop(); }

std::string HttpServer::clientAddress(const httplib::Request& raw) const {
  // Behind the configured reverse proxy the peer is the proxy; the client is the last
  // address the proxy appended to X-Forwarded-For.
  const auto& proxies = application_.config.sso.trustedProxies;
  if (std::find(proxies.begin(), proxies.end(), raw.remote_addr) != proxies.end()) {
    const std::string forwarded = raw.get_header_value("X-Forwarded-For");
    if (!forwarded.empty()) {
      const auto comma = forwarded.rfind(',');
      std::string last = comma == std::string::npos ? forwarded : forwarded.substr(comma + 1);
      last.erase(0, last.find_first_not_of(' '));
      return last;
    }
  }
  return raw.remote_addr;
}

Identity HttpServer::identityOf(std::int64_t userId, std::string username, std::string displayName,
                                std::vector<RoleGrant> roles) const {
  Identity identity;
  identity.userId = userId;
  identity.username = std::move(username);
  identity.displayName = std::move(displayName);
  identity.permissions = application_.registry.permissionsFor(roles);
  identity.roles = std::move(roles);
  return identity;
}

void HttpServer::authenticate(const httplib::Request& raw, Request& request, Response& response,
                              std::string& sessionId) {
  auto identityFor = [this](std::int64_t userId) -> std::optional<Identity> {
    const auto user = application_.accounts->userById(userId);
    if (!user || user->disabled) return std::nullopt;
    return identityOf(user->id, user->username, user->displayName, application_.accounts->roles(user->id));
  };

  // 1. API bearer token: not ambient, so no CSRF; permissions narrowed to the token's scopes.
  const std::string authorization = raw.get_header_value("Authorization");
  if (authorization.starts_with("Bearer ")) {
    const auto token = application_.accounts->findToken(authorization.substr(7));
    if (!token) throw std::invalid_argument("bearer");
    auto identity = identityFor(token->userId);
    if (!identity) throw std::invalid_argument("bearer");
    std::set<std::string, std::less<>> allowed;
    for (const auto& scope : token->scopes) {
      if (scope == kSignedIn || identity->permissions.contains(scope)) allowed.insert(scope);
    }
    identity->permissions = std::move(allowed);
    identity->viaToken = true;
    request.user = std::move(identity);
    return;
  }

  const auto cookieJar = cookies::parse(raw.get_header_value("Cookie"));
  const bool secure = application_.config.server.tlsInFront();

  // 2. Trusted reverse proxy single sign-on: the header is believed only from a configured
  //    proxy address that also presents the shared secret.
  const SsoConfig& sso = application_.config.sso;
  if (sso.enabled && !raw.get_header_value(sso.userHeader.c_str()).empty()) {
    const bool fromProxy = std::find(sso.trustedProxies.begin(), sso.trustedProxies.end(),
                                     raw.remote_addr) != sso.trustedProxies.end();
    const bool secretMatches = crypto::constantTimeEquals(
        raw.get_header_value(sso.secretHeader.c_str()), sso.secret);
    if (fromProxy && secretMatches) {
      const std::string username = raw.get_header_value(sso.userHeader.c_str());
      auto user = application_.accounts->userByUsername(username);
      if (!user && sso.autoProvision) {
        const std::string displayName = sso.displayNameHeader.empty()
                                            ? username
                                            : raw.get_header_value(sso.displayNameHeader.c_str());
        application_.accounts->addUser(username, displayName, std::nullopt);
        user = application_.accounts->userByUsername(username);
      }
      if (user && !user->disabled) {
        std::optional<SessionInfo> session;
        if (auto cookie = cookieJar.find(cookies::kSession); cookie != cookieJar.end()) {
          session = application_.sessions->find(cookie->second);
        }
        if (!session || session->userId != user->id) {
          session = application_.sessions->create(user->id);
          response.headers.emplace_back("Set-Cookie", cookies::setCookie(cookies::kSession, session->id, secure));
        }
        sessionId = session->id;
        request.user = identityFor(user->id);
      }
    } else {
      application_.logger.warning("ignored a single sign-on header from " + raw.remote_addr +
                                  (fromProxy ? " with a wrong secret" : ", not a trusted proxy"));
    }
  }

  // 3. Browser session cookie.
  if (!request.user) {
    if (auto cookie = cookieJar.find(cookies::kSession); cookie != cookieJar.end()) {
      if (auto found = application_.sessions->findWithUser(cookie->second)) {
        if (found->disabled) {
          application_.sessions->destroy(found->session.id);
        } else {
          request.user = identityOf(found->session.userId, std::move(found->username),
                                    std::move(found->displayName), std::move(found->roles));
          sessionId = found->session.id;
        }
      }
    }
  }

  // CSRF token: bound to the session, or before sign-in to a random pre-session cookie.
  if (!sessionId.empty()) {
    request.csrfToken = crypto::hmacSha256Hex(secret_, "session:" + sessionId);
  } else {
    std::string presession;
    if (auto cookie = cookieJar.find(cookies::kPresession); cookie != cookieJar.end() && cookie->second.size() >= 32) {
      presession = cookie->second;
    } else if (!request.user) {
      presession = crypto::randomToken(24);
      context.newPresession = presession;
    }
    request.csrfToken = crypto::hmacSha256Hex(secret_, "pre:" + presession);
  }

  if (auto flash = cookieJar.find(cookies::kFlash); flash != cookieJar.end()) {
    request.flash = decodeFlash(flash->second, secret_);
    if (request.flash.empty()) request.flash.push_back({"", ""}); // Marks a cookie to clear.
  }
}

void HttpServer::dispatch(const httplib::Request& raw, httplib::Response& out) {
  Request request;
  Response response;
  request.method = raw.method;
  request.path = raw.path;
  request.anonymous = context.anonymous;
  request.requestId = context.requestId;
  // On an anonymous request, whatever is logged from here on (a plugin's handler, the database
  // layer, the renderer) is counted for the day instead of written with a time.
  std::optional<DivertedLogScope> divertLog;
  if (context.anonymous) {
    divertLog.emplace([this, &raw, registered = context.route](std::string_view level, std::string_view message) {
      anonymousTally_->error(registered->route.pattern, raw.method,
                             level == "error" ? std::string(message) : std::string(level) + ": " + std::string(message));
    });
  }

  if (!context.route) {
    application_.renderer->errorPage(request, response, context.match.otherMethod ? 405 : 404,
                                     context.match.otherMethod ? "Method not allowed" : "Page not found",
                                     context.match.otherMethod
                                         ? "This address does not accept that kind of request."
                                         : "If you typed the web address, check it is correct.");
    return writeResponse(request, response, out);
  }
  const Route& route = context.route->route;
  request.pathParams = context.match.parameters;
  request.body = raw.body;
  if (const auto question = raw.target.find('?'); question != std::string::npos) {
    request.query = url::parseQuery(std::string_view(raw.target).substr(question + 1));
  }
  for (const auto& [name, value] : raw.headers) {
    // Anonymous routes see no cookies, client hints or forwarding headers: nothing to leak.
    const std::string key = lowercase(name);
    if (request.anonymous && key != "content-type" && key != "accept" && key != "content-length") continue;
    request.headers.emplace(key, value);
  }
  if (raw.get_header_value("Content-Type").starts_with("application/x-www-form-urlencoded")) {
    request.form = url::parseQuery(raw.body);
  }
  // Text that is not UTF-8 is refused here, naming the field, so no handler can store it.
  std::optional<std::string> badField = firstBadField(request.query);
  if (!badField) badField = firstBadField(request.form);
  if (!badField && !utf8::isValidText(request.path)) badField = "the web address"; // Path parameters too.
  if (!badField && raw.get_header_value("Content-Type").starts_with("application/json") &&
      !utf8::isValidText(raw.body)) {
    badField = "the JSON body";
  }
  if (badField) {
    const std::string message = "The text in " + *badField +
                                " has characters this service cannot read (it must be UTF-8 text without control characters). Check it and try again.";
    if (request.wantsJson() || raw.get_header_value("Content-Type").starts_with("application/json")) {
      response.jsonError(400, message);
    } else {
      application_.renderer->errorPage(request, response, 400, "There is a problem with what you sent", message);
    }
    return writeResponse(request, response, out);
  }

  std::string sessionId;
  if (!request.anonymous) {
    request.remoteAddress = clientAddress(raw);
    try {
      authenticate(raw, request, response, sessionId);
    } catch (const std::invalid_argument&) {
      response.headers.emplace_back("WWW-Authenticate", "Bearer");
      response.jsonError(401, "the bearer token is unknown, expired or revoked");
      return writeResponse(request, response, out);
    } catch (const std::exception& error) {
      // The database failed under us. Public routes (the health check above all) go on as
      // signed out, so they can report the outage; the rest say so plainly.
      application_.logger.error("request " + request.requestId + ": identity lookup failed: " + error.what());
      application_.database->recoverBrokenConnections();
      request.user.reset();
      response = Response{};
      if (route.permission != kPublic) {
        application_.renderer->errorPage(request, response, 503, "Sorry, the service is unavailable",
                                         "Try again in a few minutes.");
        return writeResponse(request, response, out);
      }
    }
    if (request.user) context.userId = request.user->userId;

    const bool viaToken = request.user && request.user->viaToken;
    if (isStateChanging(request.method) && !viaToken && !route.csrfExempt) {
      std::string supplied = request.formValue("_csrf");
      if (supplied.empty()) supplied = request.header("x-csrf-token");
      if (supplied.empty() || !crypto::constantTimeEquals(supplied, request.csrfToken)) {
        application_.renderer->errorPage(
            request, response, 403, "This form has expired",
            "For your security the form could not be accepted: it was open too long, you signed "
            "in or out in another tab, or it was sent from another site. Go back, reload the page "
            "and try again.");
        return writeResponse(request, response, out);
      }
    }

    if (route.permission != kPublic) {
      if (!request.user) {
        if (!request.wantsJson() && (request.method == "GET" || request.method == "HEAD")) {
          response.redirect("/signin?next=" + url::encode(raw.target), 303);
        } else {
          application_.renderer->errorPage(request, response, 401, "Sign in to continue",
                                           "You need to sign in to do that.");
        }
        return writeResponse(request, response, out);
      }
      const bool allowed = route.permission == kSignedIn
                               ? (!viaToken || request.user->can(kSignedIn))
                               : request.user->can(route.permission);
      if (!allowed) {
        application_.renderer->errorPage(request, response, 403, "You do not have access to this page",
                                         "Your account does not have permission to do this. If you "
                                         "think it should, contact your administrator.");
        return writeResponse(request, response, out);
      }
    }
  }

  try {
    route.handler(request, response);
  } catch (const std::exception& error) {
    if (request.anonymous) {
      // Counted for the day, not logged: the application log is ordered and timed too.
      anonymousTally_->error(route.pattern, request.method, error.what());
    } else {
      application_.logger.error("request " + request.requestId + " " + route.pattern + ": " + error.what());
    }
    response = Response{};
    application_.database->recoverBrokenConnections();
    application_.renderer->errorPage(request, response, 500, "Sorry, there is a problem with the service",
                                     "Try again later. If it keeps happening, quote the reference below "
                                     "to your administrator.");
  }
  writeResponse(request, response, out);
}

void HttpServer::writeResponse(const Request& request, Response& response, httplib::Response& out) {
  const bool secure = application_.config.server.tlsInFront();
  // The one check every response header passes: a CR or LF from any handler would let a link
  // set cookies in a victim's browser (response splitting); a Location off this site, bounce them.
  for (const auto& [name, value] : response.headers) {
    const bool isLocation = lowercase(name) == "location";
    if (!isSafeHeader(name, value) || (isLocation && !isSafeLocalPath(value))) {
      const std::string problem = "refused an unsafe response header " + lowercase(name).substr(0, 64);
      if (request.anonymous && context.route) {
        anonymousTally_->error(context.route->route.pattern, request.method, problem);
      } else {
        application_.logger.error("request " + request.requestId + ": " + problem);
      }
      Response refused;
      application_.renderer->errorPage(request, refused, 500, "Sorry, there is a problem with the service",
                                       "Try again later. If it keeps happening, quote the reference below "
                                       "to your administrator.");
      response = std::move(refused);
      break;
    }
  }
  out.status = response.status;
  for (auto& [name, value] : response.headers) out.headers.emplace(name, value);
  // Pages carry personal data: never store them in shared or browser caches.
  out.set_header("Cache-Control", "no-store");
  if (!request.anonymous && !request.requestId.empty()) out.set_header("X-Request-Id", request.requestId);
  if (!context.newPresession.empty() && response.contentType.starts_with("text/html") && !response.body.empty()) {
    out.headers.emplace("Set-Cookie", cookies::setCookie(cookies::kPresession, context.newPresession, secure));
  }
  if (!request.anonymous) {
    if (!response.flash.empty()) {
      out.headers.emplace("Set-Cookie", cookies::setCookie(cookies::kFlash, encodeFlash(response.flash, secret_), secure));
    } else if (!request.flash.empty() && response.status < 300) {
      out.headers.emplace("Set-Cookie", cookies::setCookie(cookies::kFlash, "", secure, 0));
    }
  }
  out.set_content(std::move(response.body), response.contentType);
}

void HttpServer::logAccess(const httplib::Request& raw, const httplib::Response& out) {
  if (!context.begun) beginRequest(raw);
  if (context.anonymous) {
    // No line at all, not even a dateless one: its place in the file, between timestamped lines
    // of identified requests, would date it. A count for the day instead (AnonymousTally).
    anonymousTally_->count(context.route->route.pattern, raw.method, out.status);
  } else if (accessLog_->enabled()) {
    const auto elapsed = std::chrono::steady_clock::now() - context.started;
    accessLog_->write({{"time", isoTimestamp()},
                       {"request_id", context.requestId},
                       {"remote_addr", clientAddress(raw)},
                       {"method", raw.method},
                       {"path", raw.path},
                       {"status", out.status},
                       {"bytes", out.body.size()},
                       {"duration_ms", std::chrono::duration<double, std::milli>(elapsed).count()},
                       {"user_id", context.userId}});
  }
  // This runs last for every request: the next one on this thread starts clean even if
  // cpp-httplib cannot parse it and so never calls the pre-routing hook.
  context = RequestContext{};
}

} // namespace belonging
