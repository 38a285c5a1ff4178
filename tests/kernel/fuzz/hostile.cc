#include "keel/rt.h"
extern "C" int keel_main(void*) { return 0; }
