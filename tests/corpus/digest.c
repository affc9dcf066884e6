/* A streaming FNV-1a digest whose one result takes several calls: reset, update..., then read back.
 *
 * The context is owned by the caller; `data` (n bytes) is borrowed for the duration of the call.
 * Nothing here is wrong in C: sharing one context between threads in the wrapper is the seeded bug.
 */
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state;
    size_t length;
} digest_ctx;

void digest_reset(digest_ctx *ctx)
{
    ctx->state = 2166136261u;
    ctx->length = 0;
}

void digest_update(digest_ctx *ctx, const unsigned char *data, size_t n)
{
    uint32_t state = ctx->state;

    for (size_t i = 0; i < n; i++) {
        state ^= data[i];
        state *= 16777619u;
    }
    ctx->state = state;
    ctx->length += n;
}

uint32_t digest_value(const digest_ctx *ctx)
{
    return ctx->state;
}

size_t digest_length(const digest_ctx *ctx)
{
    return ctx->length;
}
