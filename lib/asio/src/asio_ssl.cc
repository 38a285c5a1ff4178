// Boost.Asio's OpenSSL stream code, compiled once (keel_asio_ssl; see lib/asio/CMakeLists.txt).
#include <boost/asio/ssl/impl/src.hpp>
