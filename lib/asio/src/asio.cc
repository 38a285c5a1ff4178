// Boost.Asio's and Boost.Beast's non-template code, compiled once for every host program that
// links keel_asio (BOOST_ASIO_SEPARATE_COMPILATION, BOOST_BEAST_SEPARATE_COMPILATION; see
// lib/asio/CMakeLists.txt).
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
