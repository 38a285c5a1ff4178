// keel/sys/rpc.hh — typed, compiler-checked service requests (the model: Genode's GENODE_RPC).
//
// A request is ONE declaration (keel/sys/sessions.hh):
//
//   struct Timeout : Rpc<KEEL_SLOT_CLOCK_EP, KEEL_SERVICE_CLOCK, KEEL_CLOCK_TIMEOUT,
//                        Args<uint32_t, uint64_t, uint64_t>, Reply<>> {};
//
// fixing the service's endpoint slot, the service bit a component needs for it, the label and
// the types of the request words and of the reply words. From it, generically:
//   client:  TRY(keel::rpc::call<clock::Timeout>(id, deadline, period));
//            (marshal into the message registers, Call, reply label -> keel_error_t, unmarshal:
//            Result<void> / Result<T> / Result<Values<T...>>)
//   server:  return keel::rpc::serve<clock::Timeout>(mr, len, [&](uint32_t id, uint64_t d, uint64_t p)
//                                                    -> keel::Result<void> { ... });
//            (decode the declared argument types, or KEEL_INVALID_ARGUMENT; encode the reply; the
//            handler's parameters and result must match the declaration or it does not compile)
//
// Word kinds: an integer or enum is one word (decoding refuses a value that does not fit the
// declared type: KEEL_INVALID_ARGUMENT). Bytes<Max> is a length word and the bytes packed 8 per
// word, little-endian (the view points into the message registers: valid until the next IPC).
// The wire format is docs/os-services.md "Requests"; the sizes are static_asserted against the
// 120 message registers. Header-only, freestanding: no exceptions, RTTI or heap.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <type_traits>
#include <utility>

#include "keel/abi/types.h"
#include "keel/error.h"
#if defined(__aarch64__)
#include "keel/rt/syscall.h"
extern "C" bool keel_has_service(uint32_t bit);
#endif

namespace keel::rpc {

using Word = keel_word_t;

// ---- argument kinds --------------------------------------------------------------------------
// Up to Max bytes: MR0 = length, then (length + 7) / 8 words of bytes.
template <size_t Max>
struct Bytes {
  const char* data = nullptr;
  size_t len = 0;
  static constexpr size_t kMax = Max;
};

template <class T>
struct Codec;

template <class T>
  requires(std::is_integral_v<T> || std::is_enum_v<T>)
struct Codec<T> {
  static constexpr size_t kMaxWords = 1;
  static constexpr size_t put(Word* mr, T v) {
    mr[0] = static_cast<Word>(v);
    return 1;
  }
  // Words read, or 0 if missing or out of the declared type's range.
  static constexpr size_t get(const Word* mr, size_t avail, T& v) {
    if (avail < 1) return 0;
    using U = typename std::conditional_t<std::is_enum_v<T>, std::underlying_type<T>, std::type_identity<T>>::type;
    if constexpr (sizeof(U) < sizeof(Word)) {
      if (mr[0] > static_cast<Word>(static_cast<std::make_unsigned_t<U>>(~0ull))) return 0;
    }
    v = static_cast<T>(mr[0]);
    return 1;
  }
};

template <size_t Max>
struct Codec<Bytes<Max>> {
  static constexpr size_t kMaxWords = 1 + (Max + 7) / 8;
  // A caller checks len <= Max (its error to report); more is cut at Max, never written past.
  static size_t put(Word* mr, Bytes<Max> b) {
    if (b.len > Max) b.len = Max;
    mr[0] = b.len;
    const size_t words = (b.len + 7) / 8;
    if (words != 0) mr[words] = 0;  // zero padding of the last word
    __builtin_memcpy(&mr[1], b.data, b.len);
    return 1 + words;
  }
  static size_t get(const Word* mr, size_t avail, Bytes<Max>& b) {
    if (avail < 1 || mr[0] > Max || 1 + (mr[0] + 7) / 8 > avail) return 0;
    b.len = static_cast<size_t>(mr[0]);
    b.data = reinterpret_cast<const char*>(&mr[1]);  // little-endian: the packed bytes in order
    return 1 + (b.len + 7) / 8;
  }
};

// Up to Max records of T (trivially copyable, a whole number of words, laid out as its words in
// little-endian order): MR0 = count, then count * sizeof(T) / 8 words.
template <class T, size_t Max>
struct Records {
  const T* data = nullptr;  // decoded: points into the message registers (valid until the next IPC)
  size_t count = 0;
  static constexpr size_t kMax = Max;
};
template <class T, size_t Max>
struct Codec<Records<T, Max>> {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) % sizeof(Word) == 0 && alignof(T) <= alignof(Word));
  static constexpr size_t kWordsPer = sizeof(T) / sizeof(Word);
  static constexpr size_t kMaxWords = 1 + Max * kWordsPer;
  static size_t put(Word* mr, Records<T, Max> r) {
    if (r.count > Max) r.count = Max;
    mr[0] = r.count;
    if (r.count != 0) __builtin_memcpy(&mr[1], r.data, r.count * sizeof(T));
    return 1 + r.count * kWordsPer;
  }
  static size_t get(const Word* mr, size_t avail, Records<T, Max>& r) {
    if (avail < 1 || mr[0] > Max || 1 + mr[0] * kWordsPer > avail) return 0;
    r.count = static_cast<size_t>(mr[0]);
    r.data = reinterpret_cast<const T*>(&mr[1]);
    return 1 + r.count * kWordsPer;
  }
};

template <class... T>
struct Args {
  static constexpr size_t kMaxWords = (size_t{0} + ... + Codec<T>::kMaxWords);
};
template <class... T>
struct Reply {
  static constexpr size_t kMaxWords = (size_t{0} + ... + Codec<T>::kMaxWords);
};

// ---- reply values: Result<void>, Result<T> or Result<Values<T...>> (structured bindings) --------
template <size_t I, class T>
struct Leaf {
  T v{};
};
template <class Seq, class... T>
struct ValuesBase;
template <size_t... I, class... T>
struct ValuesBase<std::index_sequence<I...>, T...> : Leaf<I, T>... {};

template <size_t I, class... T>
struct TypeAt;
template <size_t I, class T, class... U>
struct TypeAt<I, T, U...> : TypeAt<I - 1, U...> {};
template <class T, class... U>
struct TypeAt<0, T, U...> {
  using type = T;
};

template <class... T>
struct Values : ValuesBase<std::index_sequence_for<T...>, T...> {
  template <size_t I>
  using type = typename TypeAt<I, T...>::type;
  template <size_t I>
  constexpr auto& get() { return static_cast<Leaf<I, type<I>>&>(*this).v; }
  template <size_t I>
  constexpr const auto& get() const { return static_cast<const Leaf<I, type<I>>&>(*this).v; }
};

template <class R>
struct ValueOf;
template <>
struct ValueOf<Reply<>> {
  using type = void;
};
template <class T>
struct ValueOf<Reply<T>> {
  using type = T;
};
template <class T, class U, class... V>
struct ValueOf<Reply<T, U, V...>> {
  using type = Values<T, U, V...>;
};

// ---- the declaration ---------------------------------------------------------------------------
template <keel_cptr_t Slot, uint32_t ServiceBit, Word Label, class A, class R>
struct Rpc;
template <keel_cptr_t Slot, uint32_t ServiceBit, Word Label, class... A, class... R>
struct Rpc<Slot, ServiceBit, Label, Args<A...>, Reply<R...>> {
  static constexpr keel_cptr_t kSlot = Slot;
  static constexpr uint32_t kServiceBit = ServiceBit;  // 0: not checked (core service to core service)
  static constexpr Word kLabel = Label;
  using ArgList = Args<A...>;
  using ReplyList = Reply<R...>;
  using Value = typename ValueOf<Reply<R...>>::type;
  static_assert(ArgList::kMaxWords <= KEEL_MSG_MAX_LENGTH, "request does not fit the message registers");
  static_assert(ReplyList::kMaxWords <= KEEL_MSG_MAX_LENGTH, "reply does not fit the message registers");
};

// ---- generic marshalling (host-tested: lib/keel/test/rpc_test.cc) --------------------------------
namespace detail {
template <class... T>
constexpr size_t put_all([[maybe_unused]] Word* mr, const T&... v) {
  [[maybe_unused]] size_t n = 0;
  ((n += Codec<T>::put(mr + n, v)), ...);
  return n;
}
// Decodes T... from mr[0, avail) into out; false if a word is missing or out of range. `used`
// gets the number of words decoded.
template <class... T>
constexpr bool get_all([[maybe_unused]] const Word* mr, [[maybe_unused]] size_t avail, size_t& used, T&... out) {
  size_t n = 0;
  bool ok = true;
  ((ok = ok && [&] {
      const size_t k = Codec<T>::get(mr + n, avail - n, out);
      n += k;
      return k != 0;
    }()),
   ...);
  used = n;
  return ok;
}
template <class V, size_t... I>
constexpr size_t put_values(Word* mr, const V& v, std::index_sequence<I...>) {
  return put_all(mr, v.template get<I>()...);
}
// A reply's words: one value by its codec, several (Values<T...>) one after the other. (A function,
// not a generic lambda in encode_reply: clang 14 instantiates both branches of an `if constexpr`
// in a generic lambda nested in a template.)
template <class V, class... T>
constexpr size_t put_reply(Word* mr, const V& v, Reply<T...>) {
  if constexpr (sizeof...(T) == 1) {
    return Codec<V>::put(mr, v);
  } else {
    return put_values(mr, v, std::index_sequence_for<T...>{});
  }
}
template <class... T, size_t... I>
constexpr bool get_values(const Word* mr, size_t avail, Values<T...>& v, std::index_sequence<I...>) {
  size_t used = 0;
  return get_all<T...>(mr, avail, used, v.template get<I>()...);
}
}  // namespace detail

// Request words of Rpc R into mr; returns the message length.
template <class R, class... A>
constexpr size_t encode_args(Word* mr, const A&... a) {
  return detail::put_all(mr, a...);
}
// Reply words of R's value into mr; returns the message length.
template <class R>
  requires std::is_void_v<typename R::Value>
constexpr size_t encode_reply(Word*) {
  return 0;
}
template <class R>
  requires(!std::is_void_v<typename R::Value>)
constexpr size_t encode_reply(Word* mr, const typename R::Value& v) {
  return detail::put_reply(mr, v, typename R::ReplyList{});
}

// The reply of a Call with reply label `label` and `len` words in mr: the error, or the value.
template <class R>
Result<typename R::Value> decode_reply(Word label, const Word* mr, size_t len) {
  const keel_error_t e = error_from_label(label);
  if (e != KEEL_OK) return Err{e};
  using V = typename R::Value;
  if constexpr (std::is_void_v<V>) {
    (void)mr;
    (void)len;
    return Ok{};
  } else {
    V v{};
    bool ok;
    if constexpr (requires { typename Codec<V>; Codec<V>::kMaxWords; }) {
      ok = Codec<V>::get(mr, len, v) != 0;
    } else {
      ok = [&]<class... T>(Reply<T...>) {
        return detail::get_values(mr, len, v, std::index_sequence_for<T...>{});
      }(typename R::ReplyList{});
    }
    if (!ok) return Err{KEEL_PROTOCOL_ERROR};
    return v;
  }
}

// Decodes R's arguments from mr[0, len) and calls handler(args...) -> Result<R::Value>; on success
// writes the reply words into mr. Returns {label, length} of the reply. A request with a word
// missing, a value out of its type's range, or words after the last argument (nothing hides in a
// message) is answered KEEL_INVALID_ARGUMENT without calling the handler.
struct Answer {
  Word label;
  size_t len;
};
template <class R, class H>
Answer serve(Word* mr, size_t len, H&& handler) {
  return [&]<class... A>(Args<A...>) -> Answer {
    static_assert(std::is_invocable_v<H, A...>, "the handler's parameters do not match the declared Args");
    using Got = std::invoke_result_t<H, A...>;
    static_assert(std::is_same_v<Got, Result<typename R::Value>>,
                  "the handler must return keel::Result of the declared Reply");
    // Each argument decoded in declaration order, then the handler.
    Values<A...> d{};
    size_t used = 0;
    const bool ok = [&]<size_t... I>(std::index_sequence<I...>) {
      return detail::get_all<A...>(mr, len, used, d.template get<I>()...);
    }(std::index_sequence_for<A...>{});
    if (!ok || used != len) return {KEEL_INVALID_ARGUMENT, 0};
    Got r = [&]<size_t... I>(std::index_sequence<I...>) {
      return handler(d.template get<I>()...);
    }(std::index_sequence_for<A...>{});
    if (!r.ok()) return {static_cast<Word>(r.error()), 0};
    if constexpr (std::is_void_v<typename R::Value>) {
      return {KEEL_OK, 0};
    } else {
      return {KEEL_OK, encode_reply<R>(mr, r.value())};
    }
  }(typename R::ArgList{});
}

#if defined(__aarch64__)
// ---- the client: call<R>(args...) with exactly R's argument count and (convertible) types -------
template <class R, class L = typename R::ArgList>
struct Caller;
template <class R, class... A>
struct Caller<R, Args<A...>> {
  static inline Result<typename R::Value> call(A... a) {
    if constexpr (R::kServiceBit != 0) {
      // Without the service in the manifest the slot is empty: refuse here rather than fault.
      if (!keel_has_service(R::kServiceBit)) return Err{KEEL_DENIED};
    }
    return call_granted(a...);
  }
  // For a core service without libkeel, which checked its grant itself.
  static inline Result<typename R::Value> call_granted(A... a) {
    Word* mr = keel_get_ipc_buffer()->msg;
    const size_t n = encode_args<R>(mr, a...);
    const Word info = keel_call(R::kSlot, keel_msginfo_new(R::kLabel, 0, 0, n));
    return decode_reply<R>(keel_msginfo_label(info), mr, keel_msginfo_length(info));
  }
  // A request that is never answered (KEEL_ROOT_EXIT): Send.
  static inline void send(A... a) {
    Word* mr = keel_get_ipc_buffer()->msg;
    keel_send(R::kSlot, keel_msginfo_new(R::kLabel, 0, 0, encode_args<R>(mr, a...)));
  }
};
template <class R, class... T>
inline auto call(T&&... a) -> decltype(Caller<R>::call(static_cast<T&&>(a)...)) {
  return Caller<R>::call(static_cast<T&&>(a)...);
}
template <class R, class... T>
inline auto call_granted(T&&... a) -> decltype(Caller<R>::call_granted(static_cast<T&&>(a)...)) {
  return Caller<R>::call_granted(static_cast<T&&>(a)...);
}
template <class R, class... T>
inline auto send(T&&... a) -> decltype(Caller<R>::send(static_cast<T&&>(a)...)) {
  Caller<R>::send(static_cast<T&&>(a)...);
}

// The server side on the IPC buffer: the reply message info for keel_reply_recv.
template <class R, class H>
inline Word serve(Word info, H&& handler) {
  const Answer a = serve<R>(keel_get_ipc_buffer()->msg, keel_msginfo_length(info), static_cast<H&&>(handler));
  return keel_msginfo_new(a.label, 0, 0, a.len);
}
#endif

}  // namespace keel::rpc

// std::tuple_size/element for Values: `auto [used, budget, period, manifest] = TRY(call<...>(...))`.
template <class... T>
struct std::tuple_size<keel::rpc::Values<T...>> : std::integral_constant<size_t, sizeof...(T)> {};
template <size_t I, class... T>
struct std::tuple_element<I, keel::rpc::Values<T...>> {
  using type = typename keel::rpc::Values<T...>::template type<I>;
};
