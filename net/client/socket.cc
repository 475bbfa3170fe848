#include "net/client/socket.h"

#include <unistd.h>

#include <netdb.h>
#include <netinet/in.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "net/client/outbound.h"

namespace nexure::net::client {

Result<Endpoint> Endpoint::resolve(std::string_view host_port) {
    const std::string given(host_port);
    std::string_view host;
    std::string_view port;
    if (!host_port.empty() && host_port.front() == '[') {
        const size_t close = host_port.find(']');
        if (close == std::string_view::npos || close + 1 >= host_port.size() ||
            host_port[close + 1] != ':') {
            return Error{EINVAL, "address '" + given + "': expected [IPv6]:port"};
        }
        host = host_port.substr(1, close - 1);
        port = host_port.substr(close + 2);
    } else {
        const size_t colon = host_port.rfind(':');
        if (colon == std::string_view::npos || colon == 0) {
            return Error{EINVAL, "address '" + given + "': expected host:port, e.g. 127.0.0.1:8080"};
        }
        host = host_port.substr(0, colon);
        port = host_port.substr(colon + 1);
    }
    unsigned port_number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
    if (ec != std::errc() || end != port.data() + port.size() || port_number == 0 ||
        port_number > 65535) {
        return Error{EINVAL, "address '" + given + "': the port must be a number from 1 to 65535"};
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    addrinfo* found = nullptr;
    const std::string host_text(host);
    const std::string port_text(port);
    const int rc = ::getaddrinfo(host_text.c_str(), port_text.c_str(), &hints, &found);
    if (rc != 0 || found == nullptr) {
        return Error{EHOSTUNREACH, "address '" + given + "': cannot resolve '" + host_text +
                                       "': " + ::gai_strerror(rc)};
    }
    Endpoint e;
    std::memcpy(&e.address, found->ai_addr, found->ai_addrlen);
    e.length = found->ai_addrlen;
    e.text = given;
    ::freeaddrinfo(found);
    return e;
}

void TcpSocket::connect(const Endpoint& to, const TcpOptions& options,
                        UniqueFunction<void(Result<TcpSocket>)> done) {
    detail::Outbound* outbound = detail::Outbound::current();
    if (outbound == nullptr) {
        // A programming error that would otherwise touch another thread's ring.
        check_failed(__FILE__, __LINE__,
                     "TcpSocket::connect called off a worker thread (call it in a handler, a "
                     "timer or a posted task)");
    }
    outbound->connect(to, options, std::move(done));
}

TcpSocket TcpSocket::adopt(int fd) {
    detail::Outbound* outbound = detail::Outbound::current();
    if (outbound == nullptr) {
        ::close(fd);
        return {};
    }
    return outbound->adopt(fd);
}

void TcpSocket::on_sent(UniqueFunction<void(size_t)> fn) {
    if (outbound_) outbound_->set_on_sent(slot_, generation_, std::move(fn));
}

size_t TcpSocket::write_now(std::span<const iovec> parts) noexcept {
    return outbound_ ? outbound_->write_now(slot_, generation_, parts) : 0;
}

void TcpSocket::pause_reading() noexcept {
    if (outbound_) outbound_->pause_reading(slot_, generation_, true);
}

void TcpSocket::resume_reading() noexcept {
    if (outbound_) outbound_->pause_reading(slot_, generation_, false);
}

alloc::ByteBuffer* TcpSocket::output() noexcept {
    return outbound_ ? outbound_->output(slot_, generation_) : nullptr;
}

void TcpSocket::on_data(UniqueFunction<void(std::string_view)> fn) {
    if (outbound_) outbound_->set_on_data(slot_, generation_, std::move(fn));
}

void TcpSocket::on_close(UniqueFunction<void(int)> fn) {
    if (outbound_) outbound_->set_on_close(slot_, generation_, std::move(fn));
}

bool TcpSocket::write(std::string_view bytes) {
    alloc::ByteBuffer* out = outbound_ ? outbound_->output(slot_, generation_) : nullptr;
    if (out == nullptr) return false;
    out->append(bytes);
    return true;
}

char* TcpSocket::prepare(size_t n) {
    alloc::ByteBuffer* out = outbound_ ? outbound_->output(slot_, generation_) : nullptr;
    return out == nullptr ? nullptr : out->prepare(n);
}

void TcpSocket::commit(size_t n) {
    if (alloc::ByteBuffer* out = outbound_ ? outbound_->output(slot_, generation_) : nullptr)
        out->commit(n);
}

size_t TcpSocket::buffered() const noexcept {
    return outbound_ ? outbound_->buffered(slot_, generation_) : 0;
}

void TcpSocket::close() noexcept {
    if (outbound_) {
        outbound_->close(slot_, generation_);
        outbound_.reset();
    }
}

bool TcpSocket::open() const noexcept {
    return outbound_ && outbound_->is_open(slot_, generation_);
}

}  // namespace nexure::net::client
