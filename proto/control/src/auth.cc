// The control channel's authentication: transcript, Ed25519 verification, the two small state
// machines (docs/control-protocol.md, "Authentication").
#include "keel/control/auth.h"

#include <cstring>

#include "keel/control/packet.h"
#ifdef KEEL_CONTROL_DEVICE
#include "keel/sodium.h"
#else
#include <sodium.h>
#endif

namespace keel::control {

void build_transcript(const AuthInputs& in, uint8_t out[kTranscriptLen]) {
  Writer w({out, kTranscriptLen});
  w.bytes({reinterpret_cast<const uint8_t*>(kTranscriptLabel), 20});
  w.u8(in.version);
  w.u64(in.session_id);
  w.bytes({in.nonce, kNonceLen});
  w.bytes({in.device_tunnel_key, kKeyLen});
  w.bytes({in.fleet_tunnel_key, kKeyLen});
  w.bytes({in.identity_key, kKeyLen});
}

Result<void, Error> verify_auth(const AuthInputs& in, const AuthMsg& m) {
  uint8_t t[kTranscriptLen];
  build_transcript(in, t);
  if (crypto_sign_ed25519_verify_detached(m.signature, t, sizeof t, in.identity_key) != 0) return Err{Error::AuthFailed};
  return {};
}

AuthServer::AuthServer(uint64_t session_id, const uint8_t fleet_tunnel_key[kKeyLen],
                       const uint8_t device_tunnel_key[kKeyLen], const uint8_t registered_identity_key[kKeyLen]) {
  in_.version = kVersion;
  in_.session_id = session_id;
  std::memcpy(in_.fleet_tunnel_key, fleet_tunnel_key, kKeyLen);
  std::memcpy(in_.device_tunnel_key, device_tunnel_key, kKeyLen);
  std::memcpy(in_.identity_key, registered_identity_key, kKeyLen);
}

Result<Challenge, Error> AuthServer::on_hello(const Hello& m, Random& rng) {
  if (state_ != 0) {
    state_ = 3;
    return Err{Error::AuthState};
  }
  if (m.version != in_.version) {
    state_ = 3;
    return Err{Error::VersionUnsupported};
  }
  if (sodium_memcmp(m.identity_key, in_.identity_key, kKeyLen) != 0) {
    state_ = 3;
    return Err{Error::AuthUnknownDevice};
  }
  rng.fill({in_.nonce, kNonceLen});
  Challenge c;
  std::memcpy(c.nonce, in_.nonce, kNonceLen);
  c.session_id = in_.session_id;
  state_ = 1;
  return c;
}

Result<void, Error> AuthServer::on_auth(const AuthMsg& m) {
  if (state_ != 1) {
    state_ = 3;
    return Err{Error::AuthState};
  }
  state_ = 3;  // one attempt per challenge
  TRY(verify_auth(in_, m));
  state_ = 2;
  return {};
}

AuthClient::AuthClient(uint64_t session_id, const uint8_t device_tunnel_key[kKeyLen],
                       const uint8_t fleet_tunnel_key[kKeyLen], const uint8_t identity_key[kKeyLen]) {
  in_.version = kVersion;
  in_.session_id = session_id;
  std::memcpy(in_.device_tunnel_key, device_tunnel_key, kKeyLen);
  std::memcpy(in_.fleet_tunnel_key, fleet_tunnel_key, kKeyLen);
  std::memcpy(in_.identity_key, identity_key, kKeyLen);
}

Hello AuthClient::hello(uint32_t capabilities) const {
  Hello h;
  h.version = in_.version;
  std::memcpy(h.identity_key, in_.identity_key, kKeyLen);
  h.capabilities = capabilities;
  return h;
}

Result<AuthMsg, Error> AuthClient::on_challenge(const Challenge& m, Signer& signer) {
  if (answered_ || m.session_id != in_.session_id) return Err{Error::AuthState};
  answered_ = true;
  std::memcpy(in_.nonce, m.nonce, kNonceLen);
  uint8_t t[kTranscriptLen];
  build_transcript(in_, t);
  AuthMsg a;
  if (!signer.sign({t, sizeof t}, a.signature)) return Err{Error::Internal};
  return a;
}

}  // namespace keel::control
