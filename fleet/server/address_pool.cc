#include "address_pool.h"

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <stdexcept>

namespace keel::fleet {

void AddressPool::configure(const std::string& prefix) {
  boost::system::error_code ec;
  if (prefix.find(':') == std::string::npos) {
    auto net = boost::asio::ip::make_network_v4(prefix, ec);
    if (ec) throw std::invalid_argument("tunnel prefix '" + prefix + "' is not an IPv4 or IPv6 network");
    if (net.prefix_length() > 29) throw std::invalid_argument("tunnel prefix '" + prefix + "' is too small (max /29)");
    if (net.network() != net.address())
      throw std::invalid_argument("tunnel prefix '" + prefix + "' has host bits set; use " + net.canonical().to_string());
    v6_ = false;
    auto b = net.network().to_bytes();
    std::copy(b.begin(), b.end(), bytes_);
    bits_ = net.prefix_length();
    last_ = (int64_t{1} << (32 - bits_)) - 2;  // the top address is broadcast
  } else {
    auto net = boost::asio::ip::make_network_v6(prefix, ec);
    if (ec) throw std::invalid_argument("tunnel prefix '" + prefix + "' is not an IPv4 or IPv6 network");
    if (net.prefix_length() > 125) throw std::invalid_argument("tunnel prefix '" + prefix + "' is too small (max /125)");
    if (net.network() != net.address())
      throw std::invalid_argument("tunnel prefix '" + prefix + "' has host bits set; use " + net.canonical().to_string());
    v6_ = true;
    auto b = net.network().to_bytes();
    std::copy(b.begin(), b.end(), bytes_);
    bits_ = net.prefix_length();
    int host = 128 - bits_;
    last_ = host >= 62 ? (int64_t{1} << 62) : (int64_t{1} << host) - 1;
  }
  prefix_ = prefix;
}

std::string AddressPool::address(int64_t index) const {
  if (index < 0 || index > last_) throw std::out_of_range("address index outside the tunnel prefix");
  if (!v6_) {
    uint32_t base = (uint32_t{bytes_[0]} << 24) | (uint32_t{bytes_[1]} << 16) | (uint32_t{bytes_[2]} << 8) | bytes_[3];
    uint32_t a = base + static_cast<uint32_t>(index);
    return boost::asio::ip::address_v4(a).to_string();
  }
  boost::asio::ip::address_v6::bytes_type b;
  std::copy(bytes_, bytes_ + 16, b.begin());
  uint64_t carry = static_cast<uint64_t>(index);
  for (int k = 15; k >= 0 && carry; --k) {
    uint64_t sum = b[static_cast<size_t>(k)] + (carry & 0xff);
    b[static_cast<size_t>(k)] = static_cast<uint8_t>(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  return boost::asio::ip::address_v6(b).to_string();
}

}  // namespace keel::fleet
