// Endpoint IPC: Call/ReplyRecv, Send/Recv, non-blocking variants, badges, long messages through
// the IPC buffer, capability transfer with and without the Grant right, two address spaces.
#include "../framework/ktest.h"

using namespace ktest;

namespace {

// Echo server: replies label + 1, MR0 = badge, MR1.. = the received MRs + 1, and reports the
// number of extra caps it received (and, if any, signals the first one) in the reply label's
// bits above 16.
void echo_server(Thread* t) {
  keel_cptr_t ep = t->arg[0];
  keel_cptr_t reply = t->arg[1];
  keel_cptr_t recv_slot = t->arg[2];
  if (recv_slot != 0) keel_set_cap_receive_path(kRoot, recv_slot, kDepth);
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(ep, &badge, reply);
  for (;;) {
    keel_word_t n = keel_msginfo_length(info);
    if (n > KEEL_MSG_MAX_LENGTH - 1) n = KEEL_MSG_MAX_LENGTH - 1;
    for (keel_word_t i = n; i > 0; --i) keel_set_mr(static_cast<unsigned>(i), keel_get_mr(static_cast<unsigned>(i - 1)) + 1);
    keel_set_mr(0, badge);
    keel_word_t caps = keel_msginfo_extra_caps(info);
    t->result[0] = caps;
    t->result[1] = keel_msginfo_caps_unwrapped(info);
    if (caps > keel_msginfo_caps_unwrapped(info) && recv_slot != 0) keel_signal(recv_slot);
    bump(t->progress);
    keel_word_t label = keel_msginfo_label(info) + 1 + (caps << 16);
    info = keel_reply_recv(ep, keel_msginfo_new(label, 0, 0, n + 1), &badge, reply);
  }
}

Thread* start_echo(keel_cptr_t ep, keel_cptr_t recv_slot = 0) {
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  Thread* t = spawn(echo_server, ep);
  if (t) {
    t->arg[1] = reply;
    t->arg[2] = recv_slot;
  }
  return t;
}

}  // namespace

KTEST(ipc_call_reply_registers) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  Thread* t = start_echo(ep);
  REQUIRE(t != nullptr);
  keel_word_t m0 = 10, m1 = 20, m2 = 30, m3 = 40;
  keel_word_t info = keel_call_mrs(ep, keel_msginfo_new(7, 0, 0, 3), &m0, &m1, &m2, &m3);
  CHECK_EQ(keel_msginfo_label(info), 8u);
  CHECK_EQ(keel_msginfo_length(info), 4u);
  CHECK_EQ(m0, 0u);  // unbadged
  CHECK_EQ(m1, 11u);
  CHECK_EQ(m2, 21u);
  CHECK_EQ(m3, 31u);
  // Zero-length message, many round trips.
  for (int i = 0; i < 100; ++i) {
    info = keel_call_mrs(ep, keel_msginfo_new(1, 0, 0, 0), nullptr, nullptr, nullptr, nullptr);
    if (keel_msginfo_label(info) != 2) break;
  }
  CHECK_EQ(keel_msginfo_label(info), 2u);
  CHECK_EQ(t->progress, 101u);
}

KTEST(ipc_long_message_through_ipc_buffer) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  REQUIRE(start_echo(ep) != nullptr);
  for (unsigned i = 0; i < 119; ++i) keel_set_mr(i, 1000 + i);
  keel_word_t info = keel_call(ep, keel_msginfo_new(1, 0, 0, 119));
  CHECK_EQ(keel_msginfo_length(info), 120u);
  bool ok = true;
  for (unsigned i = 1; i < 120; ++i) ok = ok && keel_get_mr(i) == 1000 + (i - 1) + 1;
  CHECK(ok);
  // A length beyond 120 is clamped (seL4: length is 7 bits; values above 120 mean 120).
  info = keel_call(ep, keel_msginfo_new(1, 0, 0, 127));
  CHECK(keel_msginfo_length(info) <= 120u);
}

KTEST(ipc_badges_identify_senders) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  REQUIRE(start_echo(ep) != nullptr);
  keel_cptr_t a = mint(ep, KEEL_RIGHTS_ALL, 0xa1);
  keel_cptr_t b = mint(ep, KEEL_RIGHTS_ALL, 0xb2);
  keel_word_t m0 = 0;
  keel_call_mrs(a, keel_msginfo_new(0, 0, 0, 0), &m0, nullptr, nullptr, nullptr);
  CHECK_EQ(m0, 0xa1u);
  keel_call_mrs(b, keel_msginfo_new(0, 0, 0, 0), &m0, nullptr, nullptr, nullptr);
  CHECK_EQ(m0, 0xb2u);
  keel_call_mrs(ep, keel_msginfo_new(0, 0, 0, 0), &m0, nullptr, nullptr, nullptr);
  CHECK_EQ(m0, 0u);
}

KTEST(ipc_send_recv_one_way) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  Thread* t = spawn(
      [](Thread* self) {
        keel_word_t badge = 0;
        for (int i = 0; i < 3; ++i) {
          keel_word_t m0 = 0;
          keel_recv_mrs(self->arg[0], &badge, 0, &m0, nullptr, nullptr, nullptr);
          self->result[i] = m0;
        }
      },
      ep);
  REQUIRE(t != nullptr);
  for (int i = 0; i < 3; ++i) keel_send_mrs(ep, keel_msginfo_new(0, 0, 0, 1), 100 + i, 0, 0, 0);
  // Let the receiver finish (it is lower priority; Send returned once it took the message).
  wait_for(t->done, 1);
  CHECK_EQ(t->result[0], 100u);
  CHECK_EQ(t->result[1], 101u);
  CHECK_EQ(t->result[2], 102u);
  CHECK_EQ(t->done, 1u);
}

KTEST(ipc_nonblocking_variants) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  // Nobody waiting: NBSend drops the message, NBRecv returns at once with nothing.
  keel_set_mr(0, 77);
  keel_nbsend(ep, keel_msginfo_new(5, 0, 0, 1));
  keel_word_t badge = 0xdead;
  keel_word_t info = keel_nbrecv(ep, &badge, 0);
  CHECK_EQ(keel_msginfo_label(info), 0u);
  CHECK_EQ(keel_msginfo_length(info), 0u);
  // A receiver waiting: NBSend delivers.
  Thread* t = spawn(
      [](Thread* self) {
        keel_word_t b = 0;
        keel_word_t m0 = 0;
        self->progress = 1;
        keel_word_t i = keel_recv_mrs(self->arg[0], &b, 0, &m0, nullptr, nullptr, nullptr);
        self->result[0] = keel_msginfo_label(i);
        self->result[1] = m0;
      },
      ep);
  REQUIRE(t != nullptr);
  wait_for(t->progress, 1);
  sleep_us(2000);  // from progress = 1 to blocking in Recv is a few instructions
  keel_set_mr(0, 78);
  keel_nbsend(ep, keel_msginfo_new(6, 0, 0, 1));
  wait_for(t->done, 1);
  CHECK_EQ(t->result[0], 6u);
  CHECK_EQ(t->result[1], 78u);
}

KTEST(ipc_cap_transfer_with_grant) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t recv_slot = alloc_slot();
  Thread* t = start_echo(ep, recv_slot);
  REQUIRE(t != nullptr);
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_set_cap(0, n);
  keel_word_t info = keel_call(ep, keel_msginfo_new(1, 0, 1, 0));
  CHECK_EQ(keel_msginfo_label(info) >> 16, 1u);  // the server saw one cap
  CHECK_EQ(keel_debug_cap_identify(recv_slot, nullptr, nullptr), KEEL_CAP_NOTIFICATION);
  keel_word_t w = 0;
  keel_poll(n, &w);  // the server signalled through the transferred cap
  CHECK_EQ(keel_debug_cap_identify(n, nullptr, nullptr), KEEL_CAP_NOTIFICATION);  // copied, not moved
}

KTEST(ipc_cap_transfer_needs_grant) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t recv_slot = alloc_slot();
  REQUIRE(start_echo(ep, recv_slot) != nullptr);
  keel_cptr_t no_grant = copy(ep, KEEL_RIGHT_READ | KEEL_RIGHT_WRITE | KEEL_RIGHT_GRANT_REPLY);
  keel_cptr_t n = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_set_cap(0, n);
  keel_word_t info = keel_call(no_grant, keel_msginfo_new(1, 0, 1, 0));
  CHECK_EQ(keel_msginfo_label(info) >> 16, 0u);  // message delivered, cap dropped
  CHECK_EQ(keel_msginfo_label(info) & 0xffff, 2u);
  CHECK_EQ(keel_debug_cap_identify(recv_slot, nullptr, nullptr), KEEL_CAP_NULL);
}

KTEST(ipc_badged_cap_to_its_own_endpoint_is_unwrapped) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t recv_slot = alloc_slot();
  Thread* t = start_echo(ep, recv_slot);
  REQUIRE(t != nullptr);
  keel_cptr_t badged = mint(ep, KEEL_RIGHTS_ALL, 0x5e);
  keel_set_cap(0, badged);
  keel_call(ep, keel_msginfo_new(1, 0, 1, 0));
  // seL4 semantics: a badged cap to the endpoint the message travels through arrives as its badge.
  CHECK_EQ(t->result[1], 1u);
  CHECK_EQ(keel_debug_cap_identify(recv_slot, nullptr, nullptr), KEEL_CAP_NULL);
}

namespace {
// Runs in another address space: only registers, stack and IPC buffer. x0 = ep, x1 = reply.
void remote_echo(keel_word_t ep, keel_word_t reply) {
  keel_word_t badge = 0;
  keel_word_t m0 = 0, m1 = 0, m2 = 0, m3 = 0;
  keel_word_t info = keel_recv_mrs(ep, &badge, reply, &m0, &m1, &m2, &m3);
  for (;;) {
    m0 = m0 * 2;
    m1 = badge;
    info = keel_reply_recv_mrs(ep, keel_msginfo_new(keel_msginfo_label(info), 0, 0, 2), &badge, reply, &m0, &m1,
                               &m2, &m3);
  }
}
}  // namespace

KTEST(ipc_between_address_spaces) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  keel_cptr_t caps[] = {ep, reply};
  Process p{};
  ThreadOpts o;
  REQUIRE(spawn_process(&p, remote_echo, 1, 2, caps, 2, o));
  keel_cptr_t b = mint(ep, KEEL_RIGHTS_ALL, 0x77);
  for (keel_word_t i = 1; i <= 50; ++i) {
    keel_word_t m0 = i, m1 = 0;
    keel_word_t info = keel_call_mrs(b, keel_msginfo_new(3, 0, 0, 1), &m0, &m1, nullptr, nullptr);
    if (m0 != 2 * i || m1 != 0x77 || keel_msginfo_label(info) != 3) {
      CHECK_EQ(m0, 2 * i);
      CHECK_EQ(m1, 0x77u);
      CHECK_EQ(keel_msginfo_label(info), 3u);
      break;
    }
  }
}

KTEST(ipc_nbsend_recv_and_nbsend_wait) {
  // A helper serves one request with NBSendRecv (reply path: NBSend to our endpoint, then Recv)
  // and one with NBSendWait (NBSend, then Wait on a notification).
  keel_cptr_t req = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t resp = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t ntfn = alloc_obj(KEEL_OBJ_NOTIFICATION);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  Thread* t = spawn(
      [](Thread* self) {
        keel_word_t badge = 0;
        keel_word_t m0 = 0;
        keel_recv_mrs(self->arg[0], &badge, self->arg[3], &m0, nullptr, nullptr, nullptr);
        self->result[0] = m0;
        // Answer on `resp` (we are waiting there) and wait for the next request on `req`.
        keel_set_mr(0, m0 + 1);
        keel_word_t info = keel_nbsend_recv(self->arg[1], keel_msginfo_new(0, 0, 0, 1), self->arg[0], &badge,
                                            self->arg[3]);
        self->result[1] = keel_get_mr(0);
        keel_set_mr(0, keel_get_mr(0) + 1);
        info = keel_nbsend_wait(self->arg[1], keel_msginfo_new(0, 0, 0, 1), self->arg[2], &badge);
        self->result[2] = badge;
        (void)info;
      },
      req);
  REQUIRE(t != nullptr);
  t->arg[1] = resp;
  t->arg[2] = ntfn;
  t->arg[3] = reply;
  keel_word_t badge = 0;
  // Request 1: Send (the helper is lower priority: we block until it receives), then wait for
  // its answer on resp.
  keel_send_mrs(req, keel_msginfo_new(0, 0, 0, 1), 10, 0, 0, 0);
  keel_word_t m0 = 0;
  keel_recv_mrs(resp, &badge, 0, &m0, nullptr, nullptr, nullptr);
  CHECK_EQ(m0, 11u);
  keel_send_mrs(req, keel_msginfo_new(0, 0, 0, 1), 20, 0, 0, 0);
  keel_recv_mrs(resp, &badge, 0, &m0, nullptr, nullptr, nullptr);
  CHECK_EQ(m0, 21u);
  CHECK_EQ(t->result[1], 20u);
  keel_signal(mint(ntfn, KEEL_RIGHTS_ALL, 0x44));
  wait_for(t->done, 1);
  CHECK_EQ(t->result[2], 0x44u);
}

KTEST(ipc_call_needs_a_receiver_reply_object) {
  // A receiver that Recvs without a reply object cannot be replied to: the caller stays blocked
  // (it is not resumed with garbage). seL4 MCS: the call becomes a send without reply.
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  Thread* server = spawn(
      [](Thread* self) {
        keel_word_t badge = 0;
        keel_recv(self->arg[0], &badge, 0);
        self->progress = 1;
        keel_recv(self->arg[0], &badge, 0);
      },
      ep);
  Thread* client = spawn(
      [](Thread* self) {
        keel_call(self->arg[0], keel_msginfo_new(1, 0, 0, 0));
        self->progress = 1;
      },
      ep);
  REQUIRE(server != nullptr && client != nullptr);
  wait_for(server->progress, 1);
  sleep_us(2000);
  CHECK_EQ(server->progress, 1u);
  CHECK_EQ(client->progress, 0u);
}

KTEST(ipc_deleting_endpoint_restarts_waiters_into_cap_fault) {
  // docs/syscalls.md: deleting an endpoint makes its waiting threads re-execute their syscall,
  // which then finds no capability: a CapFault at the handler naming the endpoint's cptr.
  keel_cptr_t fault_ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  ThreadOpts o;
  o.fault_ep = fault_ep;
  Thread* t = spawn(
      [](Thread* self) {
        keel_word_t b = 0;
        self->progress = 1;
        keel_recv(self->arg[0], &b, 0);
        self->progress = 2;
      },
      ep, o);
  REQUIRE(t != nullptr);
  wait_for(t->progress, 1);
  sleep_us(1000);  // blocked in Recv now
  CHECK_OK(keel_cnode_delete(kRoot, ep, kDepth));
  keel_word_t badge = 0;
  keel_word_t info = keel_recv(fault_ep, &badge, reply);
  CHECK_EQ(keel_msginfo_label(info), KEEL_FAULT_CAP);
  CHECK_EQ(keel_get_mr(KEEL_CAP_FAULT_ADDR), ep);
  CHECK_EQ(keel_get_mr(KEEL_CAP_FAULT_IN_RECV_PHASE), 1u);
  CHECK_EQ(t->progress, 1u);
}

KTEST(ipc_suspended_receiver_restarts_its_recv_on_resume) {
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  Thread* t = spawn(
      [](Thread* self) {
        keel_word_t b = 0, m0 = 0;
        self->progress = 1;
        keel_recv_mrs(self->arg[0], &b, 0, &m0, nullptr, nullptr, nullptr);
        self->result[0] = m0;
      },
      ep);
  REQUIRE(t != nullptr);
  wait_for(t->progress, 1);
  sleep_us(1000);
  CHECK_OK(keel_tcb_suspend(t->tcb));
  // While suspended it is not a receiver: an NBSend finds nobody and is dropped.
  keel_set_mr(0, 5);
  keel_nbsend(ep, keel_msginfo_new(0, 0, 0, 1));
  CHECK_OK(keel_tcb_resume(t->tcb));
  sleep_us(1000);  // back in Recv (re-executed)
  CHECK_EQ(t->done, 0u);
  keel_send_mrs(ep, keel_msginfo_new(0, 0, 0, 1), 6, 0, 0, 0);
  wait_for(t->done, 1);
  CHECK_EQ(t->result[0], 6u);
}

KTEST(ipc_deleting_reply_object_releases_caller) {
  // A server holds the reply for a caller; deleting the reply object makes the caller Inactive
  // (it does not return from its Call).
  keel_cptr_t ep = alloc_obj(KEEL_OBJ_ENDPOINT);
  keel_cptr_t reply = alloc_obj(KEEL_OBJ_REPLY);
  Thread* server = spawn(
      [](Thread* self) {
        keel_word_t b = 0;
        keel_recv(self->arg[0], &b, self->arg[1]);
        self->progress = 1;
        keel_word_t x = 0;
        keel_wait(self->arg[2], &x);  // park
      },
      ep);
  REQUIRE(server != nullptr);
  server->arg[1] = reply;
  server->arg[2] = alloc_obj(KEEL_OBJ_NOTIFICATION);
  Thread* client = spawn(
      [](Thread* self) {
        keel_call_mrs(self->arg[0], keel_msginfo_new(1, 0, 0, 0), nullptr, nullptr, nullptr, nullptr);
        self->progress = 1;
      },
      ep);
  REQUIRE(client != nullptr);
  wait_for(server->progress, 1);
  CHECK_EQ(client->progress, 0u);
  CHECK_OK(keel_cnode_delete(kRoot, reply, kDepth));
  sleep_us(2000);
  CHECK_EQ(client->progress, 0u);  // Inactive, not resumed with a fake reply
  // Inactive (not blocked on a reply any more): its registers can be read without suspending it.
  keel_word_t regs[1] = {};
  CHECK_OK(keel_tcb_read_registers(client->tcb, false, 1, regs));
}

namespace {
// Stress: server i doubles MR0 and adds its id in MR1; replies carry 3 words.
void stress_server(Thread* self) {
  keel_word_t b = 0, m0 = 0, m1 = 0, m2 = 0;
  keel_recv_mrs(self->arg[0], &b, self->arg[1], &m0, &m1, &m2, nullptr);
  for (;;) {
    bump(self->progress);
    m2 = m0 ^ b;  // echo the badge mixed in, to catch replies delivered to the wrong caller
    m0 = m0 * 2;
    m1 = self->arg[2];
    keel_reply_recv_mrs(self->arg[0], keel_msginfo_new(0, 0, 0, 3), &b, self->arg[1], &m0, &m1, &m2, nullptr);
  }
}
void stress_client(Thread* self) {
  keel_cptr_t ep = self->arg[0];
  keel_word_t badge = self->arg[1];
  keel_word_t server_id = self->arg[2];
  for (keel_word_t i = 1; i <= 1000; ++i) {
    keel_word_t m0 = (badge << 20) + i, m1 = 0, m2 = 0;
    keel_word_t info = keel_call_mrs(ep, keel_msginfo_new(0, 0, 0, 1), &m0, &m1, &m2, nullptr);
    if (keel_msginfo_length(info) != 3 || m0 != ((badge << 20) + i) * 2 || m1 != server_id ||
        m2 != (((badge << 20) + i) ^ badge)) {
      self->result[0] = i;  // first bad round
      return;
    }
    bump(self->progress);
  }
}
}  // namespace

KTEST(ipc_stress_many_clients_preempted) {
  // 3 servers (priorities 120..140, 0.5 ms per 1 ms) and 9 clients (priorities 60..140, budgets
  // 0.1 - 0.9 ms per 1 ms) hammering them concurrently, so calls are preempted, queued and budgets run out
  // mid-conversation. Every reply must reach its own caller with the right data.
  constexpr unsigned kServers = 3, kClients = 9;
  keel_cptr_t eps[kServers];
  Thread* clients[kClients];
  for (unsigned s = 0; s < kServers; ++s) {
    eps[s] = alloc_obj(KEEL_OBJ_ENDPOINT);
    ThreadOpts so;
    so.priority = 120 + 10 * s;
    so.budget_us = 500;
    so.period_us = 1000;
    Thread* srv = spawn(stress_server, eps[s], so);
    REQUIRE(srv != nullptr);
    srv->arg[1] = alloc_obj(KEEL_OBJ_REPLY);
    srv->arg[2] = 1000 + s;
  }
  for (unsigned c = 0; c < kClients; ++c) {
    ThreadOpts co;
    co.priority = 60 + 10 * c;
    co.budget_us = 100 + 100 * c;
    co.period_us = 1000;
    co.start = false;
    unsigned s = c % kServers;
    Thread* t = spawn(stress_client, mint(eps[s], KEEL_RIGHTS_ALL, c + 1), co);
    REQUIRE(t != nullptr);
    t->arg[1] = c + 1;
    t->arg[2] = 1000 + s;
    clients[c] = t;
  }
  for (unsigned c = 0; c < kClients; ++c) REQUIRE_OK(keel_tcb_resume(clients[c]->tcb));
  for (unsigned c = 0; c < kClients; ++c) {
    wait_for(clients[c]->done, 1, 3000000);
    CHECK_EQ(clients[c]->done, 1u);
    CHECK_EQ(clients[c]->result[0], 0u);
    CHECK_EQ(clients[c]->progress, 1000u);
  }
}
