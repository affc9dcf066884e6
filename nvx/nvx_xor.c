/*
 * RFC 6455 masking: out[i] = data[i] ^ key[(pointer + i) % 4], where `pointer` counts the bytes masked
 * since reset. Each call claims its range of the stream with one atomic fetch-and-add, so the key
 * phase continues across calls (and stays consistent when threads share a masker). `data` is borrowed
 * read-only and `out` write-only for the duration of the call; they must not overlap.
 */
#include <string.h>

#include "nvx.h"

#if NVX_X86_SIMD
#include <immintrin.h>

/* `key` is the little-endian key word already rotated to the phase of data[0]. */
__attribute__((target("avx2"))) static size_t xor_avx2(const uint8_t *data, uint8_t *out, size_t length,
                                                       uint32_t key)
{
    const __m256i k = _mm256_set1_epi32((int)key);
    size_t i = 0;
    for (; i + 128 <= length; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(data + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(data + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(data + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(data + i + 96));
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_xor_si256(a, k));
        _mm256_storeu_si256((__m256i *)(out + i + 32), _mm256_xor_si256(b, k));
        _mm256_storeu_si256((__m256i *)(out + i + 64), _mm256_xor_si256(c, k));
        _mm256_storeu_si256((__m256i *)(out + i + 96), _mm256_xor_si256(d, k));
    }
    for (; i + 32 <= length; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(data + i));
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_xor_si256(a, k));
    }
    return i; /* the scalar loop finishes the rest; i is a multiple of 4, so the phase is unchanged */
}

__attribute__((target("avx512f,avx512bw"))) static size_t xor_avx512(const uint8_t *data, uint8_t *out,
                                                                     size_t length, uint32_t key)
{
    const __m512i k = _mm512_set1_epi32((int)key);
    size_t i = 0;
    for (; i + 128 <= length; i += 128) {
        __m512i a = _mm512_loadu_si512((const void *)(data + i));
        __m512i b = _mm512_loadu_si512((const void *)(data + i + 64));
        _mm512_storeu_si512((void *)(out + i), _mm512_xor_si512(a, k));
        _mm512_storeu_si512((void *)(out + i + 64), _mm512_xor_si512(b, k));
    }
    for (; i < length; i += 64) { /* masked loads/stores: bytes past the end are neither read nor written */
        __mmask64 m = length - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (length - i)) - 1);
        __m512i a = _mm512_maskz_loadu_epi8(m, data + i);
        _mm512_mask_storeu_epi8(out + i, m, _mm512_xor_si512(a, k));
    }
    return length;
}
#endif

static uint32_t rotate_key(uint32_t key, uint64_t pointer)
{
    unsigned shift = (unsigned)(pointer & 3) * 8;
    return shift ? (key >> shift) | (key << (32 - shift)) : key;
}

/* Scalar XOR of data[from..to): `key` is the key word rotated to the phase of data[0]. */
static void xor_scalar(const uint8_t *src, uint8_t *dst, size_t from, size_t to, uint32_t key)
{
    uint32_t k = rotate_key(key, from); /* the phase of data[from] */
    uint64_t key8 = ((uint64_t)k << 32) | k;
    size_t i = from;
    for (; i + 8 <= to; i += 8) {
        uint64_t word;
        memcpy(&word, src + i, 8);
        word ^= key8;
        memcpy(dst + i, &word, 8);
    }
    for (; i < to; i++) dst[i] = src[i] ^ (uint8_t)(k >> (8 * ((i - from) & 3)));
}

/* Buffers from this size on are masked with the stores aligned to a cache line (see below). */
#define ALIGN_FROM 256

/* out = data XOR key, where `key` is the little-endian key word already rotated to the phase of data[0]. */
static void xor_run(const uint8_t *src, uint8_t *dst, size_t length, uint32_t key, int level)
{
    size_t i = 0;
#if NVX_X86_SIMD
    if (level != NVX_LEVEL_SCALAR) {
        /* A bytes object's data sits 16 bytes past a 32-byte boundary, so every other 32-byte store would
           straddle two cache lines (measured 15-20% slower from 16 KiB on): mask up to the next 64-byte
           boundary of `dst` first, then run the vector loop with the key rotated to that point. */
        size_t head = length >= ALIGN_FROM ? (size_t)(-(uintptr_t)dst & 63) : 0;
        xor_scalar(src, dst, 0, head, key);
        uint32_t k = rotate_key(key, head);
        i = head + (level == NVX_LEVEL_AVX512 ? xor_avx512(src + head, dst + head, length - head, k)
                                              : xor_avx2(src + head, dst + head, length - head, k));
    }
#else
    (void)level;
#endif
    xor_scalar(src, dst, i, length, key);
}

void nvx_xor_reset(uint8_t *state)
{
    __atomic_store_n(&((nvx_xor *)state)->pointer, 0, __ATOMIC_RELEASE);
}

uint64_t nvx_xor_pointer(uint8_t *state)
{
    return __atomic_load_n(&((nvx_xor *)state)->pointer, __ATOMIC_ACQUIRE);
}

void nvx_xor_process(uint8_t *state, const char *data, char *out, size_t length)
{
    nvx_xor *masker = (nvx_xor *)state;
    uint32_t mask;
    memcpy(&mask, masker->mask, 4);
    uint64_t pointer = __atomic_fetch_add(&masker->pointer, length, __ATOMIC_ACQ_REL);
    xor_run((const uint8_t *)data, (uint8_t *)out, length, rotate_key(mask, pointer), masker->level);
}

void nvx_xor_mask(const char *data, char *out, size_t length, const char *key, unsigned how)
{
    uint32_t mask;
    memcpy(&mask, key, 4);
    xor_run((const uint8_t *)data, (uint8_t *)out, length, rotate_key(mask, how & 3), (int)(how >> 2));
}
