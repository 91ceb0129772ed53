#include "server/lingering_close.h"

#include <array>
#include <chrono>
#include <utility>

namespace envforge::server {

namespace {

struct Drain : std::enable_shared_from_this<Drain> {
  Drain(boost::beast::tcp_stream& s, std::shared_ptr<void> o) : stream(s), owner(std::move(o)) {}
  boost::beast::tcp_stream& stream;
  std::shared_ptr<void> owner;
  std::array<char, 4096> scratch{};
  std::size_t bytes = 0;

  void next() {
    if (bytes > (1 << 20)) return;
    stream.async_read_some(boost::asio::buffer(scratch),
                           [self = shared_from_this()](boost::beast::error_code ec, std::size_t n) {
                             self->bytes += n;
                             if (!ec) self->next();
                           });
  }
};

}  // namespace

void lingering_close(boost::beast::tcp_stream& stream, std::shared_ptr<void> owner) {
  boost::beast::error_code ec;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  stream.expires_after(std::chrono::seconds(5));
  std::make_shared<Drain>(stream, std::move(owner))->next();
}

}  // namespace envforge::server
