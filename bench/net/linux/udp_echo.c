/* udp_echo: the Linux reference guest's UDP echo server (bench/net/README.md).
 *
 *   udp_echo [PORT]        (default 7)
 *
 * Binds 0.0.0.0:PORT and sends every datagram back to its sender, byte for byte, in batches of up
 * to 64 (recvmmsg / sendmmsg: one system call per batch each way, as a tuned Linux server would).
 * Prints "udp_echo: ready on port PORT" once bound, so a runner can wait for it. Runs until killed.
 * Built at build time with aarch64-linux-gnu-gcc -static (glibc); never committed as a binary. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kBatch = 64, kMaxDatagram = 65536 };

static unsigned char buffers[kBatch][kMaxDatagram];

int main(int argc, char **argv) {
  long port = 7;
  if (argc > 2 || (argc == 2 && ((port = strtol(argv[1], NULL, 10)) <= 0 || port > 65535))) {
    fprintf(stderr, "usage: udp_echo [PORT 1..65535]\n");
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    perror("udp_echo: socket");
    return 1;
  }
  /* Room for a burst: ask for 4 MiB each way (FORCE works as root, past rmem_max/wmem_max). */
  int size = 4 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0)
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("udp_echo: bind");
    return 1;
  }
  printf("udp_echo: ready on port %ld\n", port);
  fflush(stdout);

  static struct mmsghdr msgs[kBatch];
  static struct iovec iovs[kBatch];
  static struct sockaddr_in peers[kBatch];
  for (;;) {
    for (int i = 0; i < kBatch; i++) {
      iovs[i].iov_base = buffers[i];
      iovs[i].iov_len = kMaxDatagram;
      memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof peers[i];
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(fd, msgs, kBatch, MSG_WAITFORONE, NULL);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      perror("udp_echo: recvmmsg");
      return 1;
    }
    for (int i = 0; i < n; i++)
      iovs[i].iov_len = msgs[i].msg_len; /* send back exactly what came, 0 bytes included */
    int sent = 0;
    while (sent < n) {
      int m = sendmmsg(fd, msgs + sent, (unsigned)(n - sent), 0);
      if (m < 0) {
        if (errno == EINTR)
          continue;
        perror("udp_echo: sendmmsg"); /* e.g. ENOBUFS: drop the rest of the batch, keep serving */
        break;
      }
      sent += m;
    }
  }
}
