// keel/result.h — the one error-handling vocabulary of Keel (kernel, services, tools).
//
// Result<T, E> holds either a value or an error, never both; it is [[nodiscard]] so an ignored
// failure is a compile error under -Werror. TRY(expr) unwraps a value or returns the error from the
// enclosing function. Header-only and freestanding: no exceptions, no heap, no RTTI. On the device
// (kernel, root server, services, libkeel) include keel/error.h instead: it makes keel_error_t,
// the one error enum, the default E, so that `Result<T>` is the only spelling there. Host tools
// give a richer E.
#pragma once

#include <new>
#include <type_traits>
#include <utility>

namespace keel {

template <class E>
struct Err {
  E error;
};
template <class E>
Err(E) -> Err<E>;

template <class T, class E>
class [[nodiscard]] Result {
 public:
  // NOLINTNEXTLINE(google-explicit-constructor): implicit so `return value;` reads naturally.
  Result(T value) : ok_(true) { new (&storage_.value) T(std::move(value)); }
  // NOLINTNEXTLINE(google-explicit-constructor)
  Result(Err<E> err) : ok_(false) { new (&storage_.error) E(std::move(err.error)); }

  Result(const Result& o) : ok_(o.ok_) {
    if (ok_) new (&storage_.value) T(o.storage_.value);
    else new (&storage_.error) E(o.storage_.error);
  }
  Result(Result&& o) noexcept : ok_(o.ok_) {
    if (ok_) new (&storage_.value) T(std::move(o.storage_.value));
    else new (&storage_.error) E(std::move(o.storage_.error));
  }
  Result& operator=(Result o) noexcept {
    destroy();
    ok_ = o.ok_;
    if (ok_) new (&storage_.value) T(std::move(o.storage_.value));
    else new (&storage_.error) E(std::move(o.storage_.error));
    return *this;
  }
  ~Result() { destroy(); }

  [[nodiscard]] bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }

  T& value() & { return storage_.value; }
  const T& value() const& { return storage_.value; }
  T&& value() && { return std::move(storage_.value); }
  const E& error() const { return storage_.error; }
  E&& take_error() { return std::move(storage_.error); }

  T value_or(T fallback) const { return ok_ ? storage_.value : fallback; }
  T&& value_or_void() && { return std::move(storage_.value); }  // for TRY

 private:
  void destroy() {
    if (ok_) storage_.value.~T();
    else storage_.error.~E();
  }
  union Storage {
    Storage() {}
    ~Storage() {}
    T value;
    E error;
  } storage_;
  bool ok_;
};

// Result<void, E>: success carries nothing.
struct Ok {};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() : ok_(true), error_() {}
  // NOLINTNEXTLINE(google-explicit-constructor)
  Result(Ok) : ok_(true), error_() {}
  // NOLINTNEXTLINE(google-explicit-constructor)
  Result(Err<E> err) : ok_(false), error_(std::move(err.error)) {}
  [[nodiscard]] bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const { return error_; }
  E&& take_error() { return std::move(error_); }
  void value_or_void() && {}  // for TRY

 private:
  bool ok_;
  E error_;
};

}  // namespace keel

// TRY(expr): evaluates expr (a Result); on error returns keel::Err{error} from the enclosing
// function, otherwise yields the value (for Result<void, E>, yields nothing useful).
#define KEEL_TRY_CONCAT2(a, b) a##b
#define KEEL_TRY_CONCAT(a, b) KEEL_TRY_CONCAT2(a, b)
#define TRY(expr)                                                        \
  ({                                                                     \
    auto KEEL_TRY_CONCAT(_keel_try_, __LINE__) = (expr);                 \
    if (!KEEL_TRY_CONCAT(_keel_try_, __LINE__).ok())                     \
      return ::keel::Err{KEEL_TRY_CONCAT(_keel_try_, __LINE__).take_error()}; \
    std::move(KEEL_TRY_CONCAT(_keel_try_, __LINE__)).value_or_void();    \
  })
