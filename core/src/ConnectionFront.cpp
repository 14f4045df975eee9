#include "ConnectionFront.hpp"

#include "RequestHead.hpp"

#include <httplib.h>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

namespace belonging {
namespace {

using Clock = std::chrono::steady_clock;

thread_local bool closeRequested = false;

/** Waits until the socket is ready for `events` or the deadline passes. */
bool waitFor(int socket, short events, Clock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd entry{socket, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
}

std::string numericAddress(const sockaddr_storage& address, socklen_t length, int& port) {
  char host[NI_MAXHOST] = "";
  char service[NI_MAXSERV] = "";
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof(host), service,
                    sizeof(service), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    port = 0;
    return {};
  }
  port = std::atoi(service);
  return host;
}

std::string peerAddress(int socket, int& port) {
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (::getpeername(socket, reinterpret_cast<sockaddr*>(&address), &length) != 0) return {};
  return numericAddress(address, length, port);
}

/**
 * One request's bytes for cpp-httplib: first what the event loop buffered, then the socket,
 * never past the request's deadline. Writes share one deadline per response, so a client that
 * stops reading cannot keep a worker for more than the write timeout.
 */
class FrontStream final : public httplib::Stream {
public:
  FrontStream(int socket, std::string buffered, Clock::time_point readDeadline, std::chrono::milliseconds writeTimeout)
      : socket_(socket), buffer_(std::move(buffered)), readDeadline_(readDeadline), writeTimeout_(writeTimeout) {}

  bool is_readable() const override { return offset_ < buffer_.size() || waitFor(socket_, POLLIN, readDeadline_); }
  bool is_writable() const override { return waitFor(socket_, POLLOUT, writeDeadline()); }

  ssize_t read(char* ptr, size_t size) override {
    if (offset_ == buffer_.size()) {
      buffer_.clear();
      offset_ = 0;
      char chunk[16384];
      while (true) {
        const ssize_t got = ::recv(socket_, chunk, sizeof(chunk), 0);
        if (got > 0) {
          buffer_.append(chunk, static_cast<std::size_t>(got));
          break;
        }
        if (got == 0) return 0;
        if (errno == EINTR) continue;
        if ((errno != EAGAIN && errno != EWOULDBLOCK) || !waitFor(socket_, POLLIN, readDeadline_)) return -1;
      }
    }
    const std::size_t count = std::min(size, buffer_.size() - offset_);
    std::memcpy(ptr, buffer_.data() + offset_, count);
    offset_ += count;
    return static_cast<ssize_t>(count);
  }

  ssize_t write(const char* ptr, size_t size) override {
    const auto deadline = writeDeadline();
    while (true) {
      const ssize_t sent = ::send(socket_, ptr, size, MSG_NOSIGNAL);
      if (sent >= 0) return sent;
      if (errno == EINTR) continue;
      if ((errno != EAGAIN && errno != EWOULDBLOCK) || !waitFor(socket_, POLLOUT, deadline)) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = peerAddress(socket_, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    if (::getsockname(socket_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ip.clear();
      port = 0;
      return;
    }
    ip = numericAddress(address, length, port);
  }
  socket_t socket() const override { return socket_; }

  /** Bytes received past this request (a pipelined next request), for the event loop. */
  std::string leftover() { return buffer_.substr(offset_); }

private:
  Clock::time_point writeDeadline() const {
    if (!writeDeadline_) writeDeadline_ = Clock::now() + writeTimeout_;
    return *writeDeadline_;
  }

  int socket_;
  std::string buffer_;
  std::size_t offset_ = 0;
  Clock::time_point readDeadline_;
  std::chrono::milliseconds writeTimeout_;
  mutable std::optional<Clock::time_point> writeDeadline_;
};

std::string cannedResponse(int status, const char* reason) {
  const std::string body = std::to_string(status) + " " + reason + "\n";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff"
         "\r\nCache-Control: no-store\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

} // namespace

struct ConnectionFront::Connection {
  std::uint64_t id = 0;
  int socket = -1;
  std::string address;
  std::string buffer;               ///< Received and not yet served.
  Clock::time_point requestStarted; ///< First byte of the request in `buffer`.
  Clock::time_point lastActive;
  bool served = false;   ///< A response has been sent: idle now means keep-alive.
  bool busy = false;     ///< A worker has it; the event loop must not touch it.
  bool listening = false;
  bool closeAfter = false;
  bool peerClosed = false; ///< The client shut its side: serve what is whole, then close.
  bool continued = false;  ///< "100 Continue" sent for the request being received.
};

ConnectionFront::ConnectionFront(ConnectionLimits limits, Serve serve, Exempt exempt)
    : limits_(limits), serve_(std::move(serve)), exempt_(std::move(exempt)) {}

ConnectionFront::~ConnectionFront() { stop(); }

void ConnectionFront::closeAfterResponse() { closeRequested = true; }

void ConnectionFront::start() {
  // Every open connection is a descriptor: allow as many as the hard limit lets us.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY && files.rlim_cur > 256) {
    limits_.maxConnections = std::min<std::size_t>(limits_.maxConnections, files.rlim_cur - 128);
  }
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  wakeEvent_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_ < 0 || wakeEvent_ < 0) throw std::runtime_error("cannot create the connection event loop");
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = 0;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wakeEvent_, &event);
  watcher_ = std::thread([this] { watch(); });
  for (int i = 0; i < limits_.workers; ++i) workers_.emplace_back([this] { work(); });
}

void ConnectionFront::adopt(int socket) {
  std::call_once(started_, [this] { start(); });
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      adopted_.push_back(socket);
      socket = -1;
    }
  }
  if (socket >= 0) {
    ::close(socket);
    return;
  }
  wake();
}

void ConnectionFront::wake() {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(wakeEvent_, &one, sizeof(one));
}

void ConnectionFront::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  ready_.notify_all();
  if (wakeEvent_ >= 0) wake();
  if (watcher_.joinable()) watcher_.join();
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  // Every thread has gone: nothing else holds a connection now.
  for (auto& [id, connection] : connections_) {
    if (connection->socket >= 0) ::close(connection->socket);
  }
  connections_.clear();
  for (const int socket : adopted_) ::close(socket);
  adopted_.clear();
  if (epoll_ >= 0) ::close(epoll_);
  if (wakeEvent_ >= 0) ::close(wakeEvent_);
  epoll_ = wakeEvent_ = -1;
}

void ConnectionFront::watch() {
  std::vector<epoll_event> events(256);
  auto lastSweep = Clock::now();
  while (true) {
    const int count = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), 200);
    std::vector<int> adopted;
    std::vector<Connection*> finished;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      adopted.swap(adopted_);
      finished.swap(finished_);
    }
    for (Connection* connection : finished) returned(*connection);
    for (const int socket : adopted) admit(socket);
    for (int i = 0; i < count; ++i) {
      const std::uint64_t id = events[static_cast<std::size_t>(i)].data.u64;
      if (id == 0) {
        std::uint64_t drained = 0;
        [[maybe_unused]] const auto got = ::read(wakeEvent_, &drained, sizeof(drained));
        continue;
      }
      const auto found = connections_.find(id);
      if (found == connections_.end() || found->second->busy) continue; // Closed or handed over this round.
      receive(*found->second);
    }
    const auto now = Clock::now();
    if (now - lastSweep >= std::chrono::milliseconds(200)) {
      sweep(now);
      lastSweep = now;
    }
  }
}

void ConnectionFront::admit(int socket) {
  const int flags = ::fcntl(socket, F_GETFL, 0);
  ::fcntl(socket, F_SETFL, flags | O_NONBLOCK);
  int yes = 1;
  ::setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));
  // A response that fits the kernel's send buffer never waits on a client that does not read
  // (the kernel caps this at net.core.wmem_max; memory is used only while data is queued).
  int sendBuffer = 512 * 1024;
  ::setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &sendBuffer, sizeof(sendBuffer));
  int port = 0;
  std::string address = peerAddress(socket, port);
  const bool exempt = exempt_ && exempt_(address);
  const auto sameAddress = perAddress_.find(address);
  const bool overAddress = !exempt && sameAddress != perAddress_.end() &&
                           sameAddress->second >= limits_.maxConnectionsPerAddress;
  if ((overAddress && !evictFor(address)) || (connections_.size() >= limits_.maxConnections && !evictFor({}))) {
    // Every connection in the way is mid-request: refuse this one rather than drop work.
    const std::string refusal = cannedResponse(503, "Service Unavailable");
    [[maybe_unused]] const auto sent = ::send(socket, refusal.data(), refusal.size(), MSG_NOSIGNAL);
    ::close(socket);
    return;
  }
  auto connection = std::make_unique<Connection>();
  connection->id = nextId_++;
  connection->socket = socket;
  connection->address = std::move(address);
  connection->lastActive = connection->requestStarted = Clock::now();
  ++perAddress_[connection->address];
  Connection& added = *connection;
  connections_.emplace(added.id, std::move(connection));
  listen(added);
}

void ConnectionFront::listen(Connection& connection) {
  if (connection.listening) return;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.u64 = connection.id;
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, connection.socket, &event) == 0) connection.listening = true;
}

void ConnectionFront::receive(Connection& connection) {
  const std::size_t limit = limits_.maxHeadBytes + limits_.maxBodyBytes + 65536;
  char chunk[16384];
  while (connection.buffer.size() < limit) {
    const ssize_t got = ::recv(connection.socket, chunk, std::min(sizeof(chunk), limit - connection.buffer.size()), 0);
    if (got > 0) {
      const auto now = Clock::now();
      if (connection.buffer.empty()) connection.requestStarted = now;
      connection.lastActive = now;
      connection.buffer.append(chunk, static_cast<std::size_t>(got));
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (got < 0 || connection.buffer.empty()) return close(connection); // Gone, or the socket failed.
    connection.peerClosed = true; // A request then a half-close (`nc -N`): still answer it.
    break;
  }
  if (!dispatchIfWhole(connection)) return;
  if (connection.peerClosed && !connection.busy) close(connection);
}

bool ConnectionFront::dispatchIfWhole(Connection& connection) {
  if (connection.buffer.empty()) return true;
  const RequestHead head = scanRequestHead(connection.buffer, limits_.maxHeadBytes);
  switch (head.state) {
  case RequestHead::State::Incomplete: return true;
  case RequestHead::State::TooLarge: refuse(connection, 431, "Request Header Fields Too Large"); return false;
  case RequestHead::State::Malformed: refuse(connection, 400, "Bad Request"); return false;
  case RequestHead::State::Complete: break;
  }
  // No worker ever waits on a client's body: a chunked body (no browser sends one; nginx in
  // front sends Content-Length) could drip for the whole deadline, so it is refused with 411.
  if (head.chunked) {
    refuse(connection, 411, "Length Required");
    return false;
  }
  // Over the limit: dispatched now, so the handler answers 413 from the header and closes.
  const bool tooLarge = head.contentLength > limits_.maxBodyBytes;
  const std::size_t needed = head.headBytes + (tooLarge ? 0 : static_cast<std::size_t>(head.contentLength));
  if (head.expectContinue && !tooLarge && !connection.continued && connection.buffer.size() < needed) {
    // The client waits for this before sending the body; cpp-httplib sends its own later,
    // which clients accept (any number of 1xx may precede the response).
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    [[maybe_unused]] const auto sent = ::send(connection.socket, kContinue.data(), kContinue.size(), MSG_NOSIGNAL);
    connection.continued = true;
  }
  if (connection.buffer.size() < needed) return true;
  if (connection.listening) {
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, connection.socket, nullptr);
    connection.listening = false;
  }
  connection.busy = true;
  connection.continued = false;
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(&connection);
  }
  ready_.notify_one();
  return true;
}

void ConnectionFront::returned(Connection& connection) {
  connection.busy = false;
  if (connection.closeAfter) return close(connection);
  const auto now = Clock::now();
  connection.served = true;
  connection.lastActive = connection.requestStarted = now;
  if (connection.peerClosed) {
    // Nothing more can arrive: serve a pipelined request already here, else close.
    if (dispatchIfWhole(connection) && !connection.busy) close(connection);
    return;
  }
  listen(connection);
  dispatchIfWhole(connection); // A pipelined request may already be here.
}

void ConnectionFront::sweep(Clock::time_point now) {
  std::vector<std::pair<Connection*, bool>> expired; // (connection, mid-request)
  for (auto& [id, connection] : connections_) {
    if (connection->busy) continue;
    if (!connection->buffer.empty()) {
      if (now - connection->requestStarted > limits_.requestTimeout) expired.emplace_back(connection.get(), true);
    } else if (now - connection->lastActive > (connection->served ? limits_.keepAlive : limits_.requestTimeout)) {
      expired.emplace_back(connection.get(), false);
    }
  }
  for (auto [connection, midRequest] : expired) {
    if (midRequest) {
      refuse(*connection, 408, "Request Timeout");
    } else {
      close(*connection);
    }
  }
}

bool ConnectionFront::evictFor(const std::string& address) {
  // The connection that costs a new visitor least to lose: the longest idle one; failing
  // that, the request that has been arriving longest (slowloris sends one byte at a time).
  Connection* idle = nullptr;
  Connection* partial = nullptr;
  for (auto& [id, candidate] : connections_) {
    Connection* connection = candidate.get();
    if (connection->busy || (!address.empty() && connection->address != address)) continue;
    if (connection->buffer.empty()) {
      if (!idle || connection->lastActive < idle->lastActive) idle = connection;
    } else if (!partial || connection->requestStarted < partial->requestStarted) {
      partial = connection;
    }
  }
  Connection* victim = idle ? idle : partial;
  if (!victim) return false;
  close(*victim);
  return true;
}

void ConnectionFront::refuse(Connection& connection, int status, const char* reason) {
  const std::string response = cannedResponse(status, reason);
  [[maybe_unused]] const auto sent = ::send(connection.socket, response.data(), response.size(), MSG_NOSIGNAL);
  close(connection);
}

void ConnectionFront::close(Connection& connection) {
  ::close(connection.socket); // Also drops it from the epoll set.
  if (auto count = perAddress_.find(connection.address); count != perAddress_.end() && --count->second == 0) {
    perAddress_.erase(count);
  }
  connections_.erase(connection.id);
}

void ConnectionFront::work() {
  while (true) {
    Connection* connection = nullptr;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !requests_.empty(); });
      if (stopping_) return; // stop() closes whatever is left once every thread has gone.
      connection = requests_.front();
      requests_.pop_front();
    }
    FrontStream stream(connection->socket, std::move(connection->buffer),
                       connection->requestStarted + limits_.requestTimeout, limits_.writeTimeout);
    connection->buffer.clear();
    closeRequested = false;
    bool close = false;
    bool served = false;
    try {
      served = serve_(stream, close);
    } catch (...) {
      served = false;
    }
    connection->closeAfter = !served || close || closeRequested;
    if (!connection->closeAfter) connection->buffer = stream.leftover();
    {
      std::lock_guard lock(mutex_);
      finished_.push_back(connection);
    }
    wake();
  }
}

} // namespace belonging
