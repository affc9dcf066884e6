/*
 * No-ops with the signatures of NVX's per-message calls. `bench nvx` calls them through cffi beside the
 * real functions: the difference is NVX's own cost, and the no-op's time is the floor cffi sets for any
 * function taking these arguments. They touch nothing.
 */
#include "nvx.h"

int64_t nvx_noop_validate(nvx_utf8 *state, const char *data, size_t length)
{
    (void)state, (void)data, (void)length;
    return 0;
}

void nvx_noop_process(uint8_t *state, const char *data, char *out, size_t length)
{
    (void)state, (void)data, (void)out, (void)length;
}

void nvx_noop_mask(const char *data, char *out, size_t length, const char *key, unsigned how)
{
    (void)data, (void)out, (void)length, (void)key, (void)how;
}
