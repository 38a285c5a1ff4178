// keel/control/auth.h — the device's second authentication, on the control channel, with its
// Ed25519 identity key (docs/control-protocol.md, "Authentication"). The tunnel already proved the
// device holds its WireGuard key; this proves it also holds the identity key Fleet registered for
// it, bound to this session, this tunnel and this protocol version so that no signature can be
// replayed into another session or relayed through another tunnel.
//
//   device                                   Fleet
//   HELLO(version, identity key, caps)  ──▶  identity key == registered for this tunnel key?
//                                       ◀──  CHALLENGE(fresh 32-byte nonce, session id)
//   session id == ours? sign transcript
//   (the keystore signs: Signer)
//   AUTH(signature)                     ──▶  Ed25519 verify(transcript, registered key)
//                                       ◀──  AUTH_OK  or  AUTH_FAIL(code), then CLOSE
//
// Verification uses libsodium (crypto_sign_ed25519_verify_detached), on the device keel_sodium.
#pragma once

#include "keel/control/messages.h"

namespace keel::control {

inline constexpr char kTranscriptLabel[] = "keel control auth v1";  // 20 bytes, no NUL on the wire
inline constexpr size_t kTranscriptLen = 20 + 1 + 8 + kNonceLen + 3 * kKeyLen;

struct AuthInputs {
  uint8_t version = 0;
  uint64_t session_id = 0;
  uint8_t nonce[kNonceLen] = {};
  uint8_t device_tunnel_key[kKeyLen] = {};  // the device's WireGuard static public key
  uint8_t fleet_tunnel_key[kKeyLen] = {};   // Fleet's WireGuard static public key
  uint8_t identity_key[kKeyLen] = {};       // the device's Ed25519 identity public key
};

// label || version || session id (big-endian) || nonce || device tunnel key || Fleet tunnel key ||
// identity key.
void build_transcript(const AuthInputs& in, uint8_t out[kTranscriptLen]);
// Ok, or AuthFailed.
Result<void, Error> verify_auth(const AuthInputs& in, const AuthMsg& m);

// The device's keystore: signs with the identity private key it never hands out.
class Signer {
 public:
  virtual bool sign(Bytes transcript, uint8_t signature[kSigLen]) = 0;

 protected:
  ~Signer() = default;  // not virtual: no deleting destructor, so no operator delete on the device
};

class Random {
 public:
  virtual void fill(MutBytes out) = 0;  // cryptographically secure

 protected:
  ~Random() = default;  // not virtual: no deleting destructor, so no operator delete on the device
};

// Fleet's side for one session (kept only until the device is authenticated).
class AuthServer {
 public:
  AuthServer(uint64_t session_id, const uint8_t fleet_tunnel_key[kKeyLen], const uint8_t device_tunnel_key[kKeyLen],
             const uint8_t registered_identity_key[kKeyLen]);
  // VersionUnsupported, AuthUnknownDevice (claimed identity is not the registered one), AuthState
  // (a second HELLO).
  Result<Challenge, Error> on_hello(const Hello& m, Random& rng);
  // AuthState (no challenge outstanding, or already used), AuthFailed. A challenge is used once.
  Result<void, Error> on_auth(const AuthMsg& m);
  bool authenticated() const { return state_ == 2; }

 private:
  AuthInputs in_;
  uint8_t state_ = 0;  // 0 waiting for HELLO, 1 challenge sent, 2 authenticated, 3 failed
};

// The device's side.
class AuthClient {
 public:
  AuthClient(uint64_t session_id, const uint8_t device_tunnel_key[kKeyLen], const uint8_t fleet_tunnel_key[kKeyLen],
             const uint8_t identity_key[kKeyLen]);
  Hello hello(uint32_t capabilities) const;
  // AuthState (a challenge for another session, or a second one), Internal (the signer failed).
  Result<AuthMsg, Error> on_challenge(const Challenge& m, Signer& signer);

 private:
  AuthInputs in_;
  bool answered_ = false;
};

}  // namespace keel::control
