/*
 * SIMD UTF-8 checks (AVX2, AVX-512BW) after the "lookup" method described by Keiser and Lemire,
 * "Validating UTF-8 In Less Than One Instruction Per Byte" (2021): every byte is judged together with
 * its predecessor by three 16-entry nibble tables whose AND names the error classes that pair can be
 * in, and the "must be a 2nd/3rd continuation" rule is settled by looking two and three bytes back.
 *
 * Contract of nvx_utf8_check_*(data, length): data[0] starts a code point. Returns length when
 * data[0..length) is complete, valid UTF-8. Otherwise returns the offset of the group of vectors in
 * which the first violation was seen: everything before the code point that straddles that offset is
 * valid, so the caller rescans from that code point with the scalar automaton to find the exact
 * position. `data` is borrowed read-only for the call; nothing is kept.
 */
#include "nvx.h"

#if NVX_X86_SIMD
#include <immintrin.h>
#include <string.h>

/* Error classes, one bit each (two classes that need the same pair of nibbles share a bit). */
#define TOO_SHORT (1 << 0)      /* lead byte followed by a non-continuation */
#define TOO_LONG (1 << 1)       /* ASCII followed by a continuation */
#define OVERLONG_3 (1 << 2)     /* E0 80..9F */
#define TOO_LARGE (1 << 3)      /* F4 90..BF, F5..FF 90..BF */
#define SURROGATE (1 << 4)      /* ED A0..BF */
#define OVERLONG_2 (1 << 5)     /* C0/C1 followed by a continuation */
#define TOO_LARGE_1000 (1 << 6) /* F5..FF 80..8F */
#define OVERLONG_4 (1 << 6)     /* F0 80..8F */
#define TWO_CONTS (1 << 7)      /* continuation after continuation: legal only inside 3/4-byte sequences */
#define CARRY (TOO_SHORT | TOO_LONG | TWO_CONTS) /* classes that do not depend on the low nibble */

/* Indexed by the high nibble of the previous byte. */
static const uint8_t PREV_HIGH[16] = {
    TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
    TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
    TOO_SHORT | OVERLONG_2,
    TOO_SHORT,
    TOO_SHORT | OVERLONG_3 | SURROGATE,
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
};

/* Indexed by the low nibble of the previous byte. */
static const uint8_t PREV_LOW[16] = {
    CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4,
    CARRY | OVERLONG_2,
    CARRY,
    CARRY,
    CARRY | TOO_LARGE,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
    CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
};

/* Indexed by the high nibble of the current byte. */
#define CONT_ANY (TOO_LONG | OVERLONG_2 | TWO_CONTS)
static const uint8_t CUR_HIGH[16] = {
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
    CONT_ANY | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
    CONT_ANY | OVERLONG_3 | TOO_LARGE,
    CONT_ANY | SURROGATE | TOO_LARGE,
    CONT_ANY | SURROGATE | TOO_LARGE,
    TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
};

/* Both kernels judge groups of four vectors and branch once per group. A group that is all ASCII can
 * only be wrong if the bytes before it leave a code point open; any other group has every byte judged
 * against its three predecessors, which are loaded unaligned from memory (no cross-lane shuffles). */

/* Non-zero if the `length` bytes before `end` stop inside a code point (looks at most 3 bytes back). */
static inline int ends_open(const uint8_t *end, size_t length)
{
    return (length >= 1 && end[-1] >= 0xC0) || (length >= 2 && end[-2] >= 0xE0) ||
           (length >= 3 && end[-3] >= 0xF0);
}

/* Software prefetch this far ahead: the hardware prefetcher stops at page boundaries, and on
 * text that is not in cache this nearly doubles the speed. Prefetches never fault. */
#define PREFETCH_AHEAD 4096

/* Offset of the group that holds the last byte of a region of `length` > 0 bytes. */
static inline size_t last_group(size_t length, size_t group)
{
    return (length - 1) / group * group;
}

/* ------------------------------------------------------------ AVX2: groups of 4 x 32 = 128 bytes */

#define AVX2 __attribute__((target("avx2")))
#define AVX2_GROUP 128

typedef struct {
    __m256i prev_high, prev_low, cur_high, nibble, must_bit, third, fourth;
} avx2_tables;

AVX2 static inline __m256i table256(const uint8_t *t)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t));
}

/* Error bits of the 32 bytes at p, given that p[-3..-1] are readable predecessors. */
AVX2 static inline __m256i avx2_errors(const avx2_tables *t, const uint8_t *p, __m256i input)
{
    __m256i prev1 = _mm256_loadu_si256((const __m256i *)(p - 1));
    __m256i prev2 = _mm256_loadu_si256((const __m256i *)(p - 2));
    __m256i prev3 = _mm256_loadu_si256((const __m256i *)(p - 3));
    __m256i special = _mm256_and_si256(
        _mm256_and_si256(
            _mm256_shuffle_epi8(t->prev_high, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), t->nibble)),
            _mm256_shuffle_epi8(t->prev_low, _mm256_and_si256(prev1, t->nibble))),
        _mm256_shuffle_epi8(t->cur_high, _mm256_and_si256(_mm256_srli_epi16(input, 4), t->nibble)));
    __m256i late = _mm256_or_si256(_mm256_subs_epu8(prev2, t->third), _mm256_subs_epu8(prev3, t->fourth));
    __m256i must = _mm256_and_si256(_mm256_cmpgt_epi8(late, _mm256_setzero_si256()), t->must_bit);
    return _mm256_xor_si256(must, special);
}

/* Non-zero if the 128 bytes at p are invalid; p[-3..127] must be readable. */
AVX2 static inline int avx2_group_fails(const avx2_tables *t, const uint8_t *p)
{
    __m256i a = _mm256_loadu_si256((const __m256i *)p);
    __m256i b = _mm256_loadu_si256((const __m256i *)(p + 32));
    __m256i c = _mm256_loadu_si256((const __m256i *)(p + 64));
    __m256i d = _mm256_loadu_si256((const __m256i *)(p + 96));
    if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d))) == 0) {
        return ends_open(p, 3);
    }
    __m256i err = _mm256_or_si256(_mm256_or_si256(avx2_errors(t, p, a), avx2_errors(t, p + 32, b)),
                                  _mm256_or_si256(avx2_errors(t, p + 64, c), avx2_errors(t, p + 96, d)));
    return !_mm256_testz_si256(err, err);
}

size_t AVX2 nvx_utf8_check_avx2(const uint8_t *data, size_t length)
{
    const avx2_tables t = {
        table256(PREV_HIGH), table256(PREV_LOW), table256(CUR_HIGH), _mm256_set1_epi8(0x0F),
        _mm256_set1_epi8((char)0x80), _mm256_set1_epi8((char)(0xE0 - 1)), _mm256_set1_epi8((char)(0xF0 - 1)),
    };
    uint8_t copy[3 + AVX2_GROUP];
    for (size_t i = 0; i < length; i += AVX2_GROUP) {
        const uint8_t *p = data + i;
        if (i == 0 || length - i < AVX2_GROUP) {
            /* The first group has no predecessors and the last may be short: judge a copy framed by the
             * real predecessors (zeros at the start) and ASCII zeros, which open and close nothing. */
            memset(copy, 0, sizeof copy);
            if (i > 0) memcpy(copy, p - 3, 3);
            memcpy(copy + 3, p, length - i < AVX2_GROUP ? length - i : AVX2_GROUP);
            p = copy + 3;
        }
        _mm_prefetch((const char *)(p + PREFETCH_AHEAD), _MM_HINT_T0);
        _mm_prefetch((const char *)(p + PREFETCH_AHEAD + 64), _MM_HINT_T0);
        if (avx2_group_fails(&t, p)) return i;
    }
    return ends_open(data + length, length) ? last_group(length, AVX2_GROUP) : length;
}

/* ------------------------------------------------------- AVX-512BW: groups of 4 x 64 = 256 bytes */

#define AVX512 __attribute__((target("avx512f,avx512bw")))
#define AVX512_GROUP 256

typedef struct {
    __m512i prev_high, prev_low, cur_high, nibble, must_bit, third, fourth;
} avx512_tables;

AVX512 static inline __m512i table512(const uint8_t *t)
{
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)t));
}

/* Mask of the 64 bytes at offset `start` of a group that lie in [low, high) (others are not read). */
static inline __mmask64 window(ptrdiff_t start, ptrdiff_t low, ptrdiff_t high)
{
    ptrdiff_t first = low > start ? low - start : 0;
    ptrdiff_t last = high - start < 64 ? high - start : 64;
    if (last <= first) return 0;
    __mmask64 span = last - first == 64 ? ~(__mmask64)0 : (((__mmask64)1 << (last - first)) - 1);
    return span << first;
}

/* Error bits of the 64 bytes at offset `start` of the group at g; bytes outside [low, high) read as 0. */
AVX512 static inline __m512i avx512_errors(const avx512_tables *t, const uint8_t *g, ptrdiff_t start,
                                           ptrdiff_t low, ptrdiff_t high, __m512i input)
{
    __m512i prev1 = _mm512_maskz_loadu_epi8(window(start - 1, low, high), g + start - 1);
    __m512i prev2 = _mm512_maskz_loadu_epi8(window(start - 2, low, high), g + start - 2);
    __m512i prev3 = _mm512_maskz_loadu_epi8(window(start - 3, low, high), g + start - 3);
    __m512i special = _mm512_and_si512(
        _mm512_and_si512(
            _mm512_shuffle_epi8(t->prev_high, _mm512_and_si512(_mm512_srli_epi16(prev1, 4), t->nibble)),
            _mm512_shuffle_epi8(t->prev_low, _mm512_and_si512(prev1, t->nibble))),
        _mm512_shuffle_epi8(t->cur_high, _mm512_and_si512(_mm512_srli_epi16(input, 4), t->nibble)));
    __mmask64 late = _mm512_cmpgt_epu8_mask(prev2, t->third) | _mm512_cmpgt_epu8_mask(prev3, t->fourth);
    return _mm512_xor_si512(_mm512_maskz_mov_epi8(late, t->must_bit), special);
}

/* Non-zero if g[0..min(high, 256)) is invalid; g[low..high) is readable, low is 0 or -3. */
AVX512 static inline int avx512_group_fails(const avx512_tables *t, const uint8_t *g, ptrdiff_t low,
                                            ptrdiff_t high)
{
    __m512i a = _mm512_maskz_loadu_epi8(window(0, low, high), g);
    __m512i b = _mm512_maskz_loadu_epi8(window(64, low, high), g + 64);
    __m512i c = _mm512_maskz_loadu_epi8(window(128, low, high), g + 128);
    __m512i d = _mm512_maskz_loadu_epi8(window(192, low, high), g + 192);
    if (_mm512_movepi8_mask(_mm512_or_si512(_mm512_or_si512(a, b), _mm512_or_si512(c, d))) == 0) {
        return low < 0 && ends_open(g, 3);
    }
    /* Vectors wholly past the end are skipped: a code point cut off by the end is the caller's check. */
    __m512i err = avx512_errors(t, g, 0, low, high, a);
    if (high > 64) err = _mm512_or_si512(err, avx512_errors(t, g, 64, low, high, b));
    if (high > 128) err = _mm512_or_si512(err, avx512_errors(t, g, 128, low, high, c));
    if (high > 192) err = _mm512_or_si512(err, avx512_errors(t, g, 192, low, high, d));
    return _mm512_test_epi8_mask(err, err) != 0;
}

size_t AVX512 nvx_utf8_check_avx512(const uint8_t *data, size_t length)
{
    const avx512_tables t = {
        table512(PREV_HIGH), table512(PREV_LOW), table512(CUR_HIGH), _mm512_set1_epi8(0x0F),
        _mm512_set1_epi8((char)0x80), _mm512_set1_epi8((char)(0xE0 - 1)), _mm512_set1_epi8((char)(0xF0 - 1)),
    };
    if (length == 0) return 0;
    /* First group: nothing before data[0] may be read. Masked loads never touch masked-off bytes. */
    if (avx512_group_fails(&t, data, 0, (ptrdiff_t)length)) return 0;
    size_t i = AVX512_GROUP;
    for (; i + AVX512_GROUP <= length; i += AVX512_GROUP) {
        for (size_t line = 0; line < AVX512_GROUP; line += 64) {
            _mm_prefetch((const char *)(data + i + PREFETCH_AHEAD + line), _MM_HINT_T0);
        }
        if (avx512_group_fails(&t, data + i, -3, AVX512_GROUP)) return i;
    }
    if (i < length && avx512_group_fails(&t, data + i, -3, (ptrdiff_t)(length - i))) return i;
    return ends_open(data + length, length) ? last_group(length, AVX512_GROUP) : length;
}

#endif
