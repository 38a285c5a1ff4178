// address_pool.h — private tunnel addresses for devices, from one configured prefix (IPv4 or IPv6).
// A device's address is stored as its index inside the prefix (unique in the database), so the
// allocation is a database operation and two servers can never hand out the same address.
#pragma once

#include <cstdint>
#include <string>

namespace keel::fleet {

class AddressPool {
 public:
  // Throws std::invalid_argument with a clear message on a malformed or too small prefix.
  void configure(const std::string& prefix);
  const std::string& prefix() const { return prefix_; }
  // Indices 0 (network) and 1 (Fleet's own tunnel address) are reserved; devices use [2, capacity].
  int64_t first_index() const { return 2; }
  int64_t last_index() const { return last_; }
  std::string address(int64_t index) const;
  std::string fleet_address() const { return address(1); }

 private:
  std::string prefix_;
  bool v6_ = false;
  uint8_t bytes_[16] = {};
  int bits_ = 0;
  int64_t last_ = 0;
};

}  // namespace keel::fleet
