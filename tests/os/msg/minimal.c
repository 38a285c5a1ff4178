/* The smallest component (os.component.bytes): it only waits. */
#include "keel/keel.h"

int keel_main(void* info) {
  (void)info;
  for (;;) keel_notify_wait(KEEL_NOTIFY_TIMER);
}
