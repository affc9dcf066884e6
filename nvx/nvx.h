/*
 * NVX: incremental UTF-8 validation and RFC 6455 XOR masking for Python (via cffi).
 *
 * Thread-safety model: there is no writable global or static state anywhere in NVX. All mutable state
 * lives in one 64-bit word inside a per-instance struct that the Python object allocates and owns
 * (cffi `ffi.new`). Every call reads that word atomically, computes its result from the caller's bytes,
 * and publishes the new word with one compare-and-swap (validator) or fetch-and-add (masker), so each
 * call is atomic even when threads share an instance.
 *
 * Buffer ownership, for every function declared here: `data` is borrowed read-only for the duration
 * of the call (the Python caller keeps the object alive); `out` is borrowed write-only for the
 * duration of the call and owned by the caller; `state` is owned by the Python object that allocated
 * it; `key` is borrowed read-only. NVX never allocates, frees, or keeps a pointer after returning.
 */
#ifndef NVX_H
#define NVX_H

#include <stddef.h>
#include <stdint.h>

/* SIMD code is compiled only where GCC/Clang target attributes and x86-64 intrinsics exist. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NVX_X86_SIMD 1
#else
#define NVX_X86_SIMD 0
#endif

/* SIMD levels; the best one the CPU supports is picked once at import (see nvx_cpu_level). */
#define NVX_LEVEL_SCALAR 0
#define NVX_LEVEL_AVX2 1
#define NVX_LEVEL_AVX512 2

/*
 * nvx_utf8_validate returns its whole result as one int64_t, chosen so that Python decodes the common
 * cases with a single comparison (current_index is the chunk length whenever the chunk is valid):
 *   r >= 0                      valid, ends on a code point; total_index = r
 *   NVX_UTF8_PARTIAL_MIN <= r   valid, stops inside a code point; total_index = -1 - r
 *   r < NVX_UTF8_PARTIAL_MIN    invalid; p = r - INT64_MIN (0 <= p < 2**62) holds, when p < 2**61,
 *                               current_index = p >> 30 and total_index = p & (2**30 - 1); otherwise
 *                               current_index = p - 2**61 and total_index stays frozen in the state
 *                               until reset (read it with nvx_utf8_total).
 * total_index wraps at 2**60 bytes per stream.
 */
#define NVX_UTF8_PARTIAL_MIN (-(INT64_C(1) << 62))
#define NVX_UTF8_COMPACT_LIMIT (INT64_C(1) << 30)

typedef struct nvx_utf8 {
    uint64_t word; /* (total_index << 4) | scan state; accessed only atomically */
    int level;     /* SIMD level; written once by nvx_utf8_init before the instance is shared */
} nvx_utf8;

/*
 * A masker's state is 16 bytes that Python creates and initialises in one step (cffi "uint8_t[16]" from
 * the key followed by the level byte), so constructing a masker needs no C call: bytes 0-3 the key,
 * byte 4 the SIMD level, bytes 8-15 the stream pointer (zero at first; accessed only atomically).
 */
typedef struct nvx_xor {
    uint8_t mask[4]; /* written once, before the instance is shared */
    uint8_t level;   /* written once, before the instance is shared */
    uint8_t unused[3];
    uint64_t pointer; /* bytes masked since reset */
} nvx_xor;
/* The Python side allocates NVX_XOR_STATE_SIZE (16) bytes: a compile error here if the layout grows. */
typedef char nvx_xor_fits_its_state[sizeof(nvx_xor) == 16 ? 1 : -1];

/* ---- Python API: nvx/_build.py hands the lines from here to "end of Python API" to cffi's cdef. ---- */

/* Best SIMD level this CPU and OS support (a pure function of the hardware). */
int nvx_cpu_level(void);

/* Initialise a validator; `level` must not exceed nvx_cpu_level(). */
void nvx_utf8_init(nvx_utf8 *state, int level);
void nvx_utf8_reset(nvx_utf8 *state);
/* Validate the next `length` bytes of the stream; returns the packed result described above. */
int64_t nvx_utf8_validate(nvx_utf8 *state, const char *data, size_t length);
/* total_index of the stream; used only to decode a large invalid result, where it is frozen. */
uint64_t nvx_utf8_total(nvx_utf8 *state);

/* The masker's state is `uint8_t state[NVX_XOR_STATE_SIZE]` laid out as struct nvx_xor. */
#define NVX_XOR_STATE_SIZE 16
void nvx_xor_reset(uint8_t *state);
uint64_t nvx_xor_pointer(uint8_t *state);
/* Write `data` XOR the key (phase continued from earlier calls) to `out`; both are `length` bytes. */
void nvx_xor_process(uint8_t *state, const char *data, char *out, size_t length);
/* Mask one frame without a masker: the 4-byte `key` starts at phase `how & 3`, SIMD level `how >> 2`. */
void nvx_xor_mask(const char *data, char *out, size_t length, const char *key, unsigned how);

/* No-ops with the signatures of the per-message calls: `bench nvx` measures cffi's own call cost on them. */
int64_t nvx_noop_validate(nvx_utf8 *state, const char *data, size_t length);
void nvx_noop_process(uint8_t *state, const char *data, char *out, size_t length);
void nvx_noop_mask(const char *data, char *out, size_t length, const char *key, unsigned how);

/* ---- end of Python API ---- */

/* Internal SIMD kernels (nvx_utf8_simd.c). `data` is borrowed read-only for the call. */
size_t nvx_utf8_check_avx2(const uint8_t *data, size_t length);
size_t nvx_utf8_check_avx512(const uint8_t *data, size_t length);

#endif
