// A stand-in component image for the bootspec-probe system: packed and found, never run.
extern "C" int keel_main(void*) { return 0; }
