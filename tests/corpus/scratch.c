/* Seeded bug: an encoder that stages its work in one static scratch buffer shared by every call.
 *
 * Both public functions reverse `in` and XOR each byte with `key`, writing n bytes to `out`.
 * Buffers: `in` (n bytes) and `out` (n bytes) are owned by the caller; n must be <= SCRATCH_SIZE,
 * otherwise nothing is written and 0 is returned; otherwise n is returned.
 */
#include <stddef.h>
#include <string.h>

#define SCRATCH_SIZE 4096

/* Deliberately writable static state: concurrent callers overwrite each other's staged bytes. */
static unsigned char scratch[SCRATCH_SIZE];

/* The encoding itself, staged in `staging` (SCRATCH_SIZE bytes, owned by the caller of this helper). */
static size_t encode_via(unsigned char *staging, const unsigned char *in, size_t n, unsigned char key,
                         unsigned char *out)
{
    if (n > SCRATCH_SIZE)
        return 0;
    for (size_t i = 0; i < n; i++)
        staging[i] = in[n - 1 - i] ^ key;
    memcpy(out, staging, n);
    return n;
}

size_t encode_shared_scratch(const unsigned char *in, size_t n, unsigned char key, unsigned char *out)
{
    return encode_via(scratch, in, n, key, out);
}

/* Correct twin: the staging buffer lives on the caller's stack. */
size_t encode_local_scratch(const unsigned char *in, size_t n, unsigned char key, unsigned char *out)
{
    unsigned char local[SCRATCH_SIZE];

    return encode_via(local, in, n, key, out);
}
