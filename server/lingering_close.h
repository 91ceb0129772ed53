// Ending an HTTP connection after the last reply the way HTTP servers do.
#pragma once

#include <memory>

#include <boost/beast/core/tcp_stream.hpp>

namespace envforge::server {

// Shuts down our side of `stream`, then reads and drops what the client still sends (up to
// 1 MiB, for up to 5 s), so that a client still writing a request body reads our last reply
// (a 413, say) instead of a reset. `owner` keeps the stream alive until then.
void lingering_close(boost::beast::tcp_stream& stream, std::shared_ptr<void> owner);

}  // namespace envforge::server
