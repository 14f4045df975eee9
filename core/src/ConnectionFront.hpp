#pragma once
// The connection front: one event loop holds every connection that is idle or still sending
// its request, and hands a connection to a worker thread only once a whole request has
// arrived. cpp-httplib on its own gives each connection a thread for its whole life, so 48
// idle sockets or a few slowloris clients stopped everyone else being served.
//
// Rules it enforces: a whole-request deadline (head and body, from the first byte), a
// keep-alive deadline, a cap on open connections in all and per client address (the oldest
// idle connection makes way, so a new visitor is served before an idle one is kept), and a
// write deadline per response so a client that never reads cannot hold a worker.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace httplib {
class Stream;
}

namespace belonging {

struct ConnectionLimits {
  int workers = 48;
  std::size_t maxHeadBytes = 8192;
  std::size_t maxBodyBytes = 1 << 20;
  std::chrono::milliseconds requestTimeout{10000};
  std::chrono::milliseconds keepAlive{5000};
  std::chrono::milliseconds writeTimeout{10000};
  std::size_t maxConnections = 4096;
  std::size_t maxConnectionsPerAddress = 64;
};

class ConnectionFront {
public:
  /** Serves one request from the stream; returns false, or sets `close`, to end the connection. */
  using Serve = std::function<bool(httplib::Stream& stream, bool& close)>;
  /** Whether an address is exempt from the per-address cap (a trusted reverse proxy). */
  using Exempt = std::function<bool(const std::string& address)>;

  ConnectionFront(ConnectionLimits limits, Serve serve, Exempt exempt);
  ~ConnectionFront();
  ConnectionFront(const ConnectionFront&) = delete;
  ConnectionFront& operator=(const ConnectionFront&) = delete;

  /** Takes ownership of an accepted socket (called from the accept loop; never blocks on it). */
  void adopt(int socket);
  /** Closes every connection and joins the threads; requests being served finish first. */
  void stop();

  /** Called during a request (on its worker thread): close the connection after the response. */
  static void closeAfterResponse();

private:
  struct Connection;
  using Clock = std::chrono::steady_clock;

  void start();
  void watch();
  void work();
  void wake();
  void admit(int socket);
  void receive(Connection& connection);
  /** Hands the connection to a worker if a whole request is buffered; false if it was closed. */
  bool dispatchIfWhole(Connection& connection);
  void returned(Connection& connection);
  void sweep(Clock::time_point now);
  bool evictFor(const std::string& address);
  void refuse(Connection& connection, int status, const char* reason);
  void close(Connection& connection);
  void listen(Connection& connection);

  ConnectionLimits limits_;
  Serve serve_;
  Exempt exempt_;
  std::once_flag started_;
  bool stopping_ = false; // Guarded by mutex_.
  int epoll_ = -1;
  int wakeEvent_ = -1;
  std::uint64_t nextId_ = 1;

  // Owned by the watcher thread while it runs.
  std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::unordered_map<std::string, std::size_t> perAddress_;

  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<int> adopted_;              // From the accept loop, for the watcher.
  std::vector<Connection*> finished_;     // From workers, for the watcher.
  std::deque<Connection*> requests_;      // From the watcher, for workers.

  std::thread watcher_;
  std::vector<std::thread> workers_;
};

} // namespace belonging
