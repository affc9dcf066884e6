/*
 * SIMD UTF-8 checks (AVX2, AVX-512BW) after the "lookup" method described by Keiser and Lemire,
 * "Validating UTF-8 In Less Than One Instruction Per Byte" (2021): every byte is judged together with
 * its predecessor by three 16-entry nibble tables whose AND names the error classes that pair can be
 * in, and the "must be a 2nd/3rd continuation" rule is settled by looking two and three bytes back.
 *
 * Contract of nvx_utf8_check_*(data, length): data[0] starts a code point. Returns length when
 * data[0..length) is complete, valid UTF-8. Otherwise returns the offset of the 64-byte block in which
 * the first violation was seen; everything before that block's first code point is valid, so the
 * caller rescans from there with the scalar automaton to find the exact position. `data` is borrowed
 * read-only for the call; nothing is kept.
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

/* Subtracting these (saturating) leaves a non-zero byte where a block ends inside a code point. */
static const uint8_t INCOMPLETE_64[64] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0xEF, 0xDF, 0xBF,
};

/* ---------------------------------------------------------------- AVX2: 2 x 32 bytes per block */

#define AVX2 __attribute__((target("avx2")))

typedef struct {
    __m256i prev_high, prev_low, cur_high, nibble, must_bit, third, fourth;
} avx2_tables;

AVX2 static inline __m256i table256(const uint8_t *t)
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t));
}

AVX2 static inline __m256i avx2_errors(const avx2_tables *t, __m256i input, __m256i prev_input)
{
    __m256i joined = _mm256_permute2x128_si256(prev_input, input, 0x21);
    __m256i prev1 = _mm256_alignr_epi8(input, joined, 15);
    __m256i prev2 = _mm256_alignr_epi8(input, joined, 14);
    __m256i prev3 = _mm256_alignr_epi8(input, joined, 13);
    __m256i special = _mm256_and_si256(
        _mm256_and_si256(
            _mm256_shuffle_epi8(t->prev_high, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), t->nibble)),
            _mm256_shuffle_epi8(t->prev_low, _mm256_and_si256(prev1, t->nibble))),
        _mm256_shuffle_epi8(t->cur_high, _mm256_and_si256(_mm256_srli_epi16(input, 4), t->nibble)));
    __m256i late = _mm256_or_si256(_mm256_subs_epu8(prev2, t->third), _mm256_subs_epu8(prev3, t->fourth));
    __m256i must = _mm256_and_si256(_mm256_cmpgt_epi8(late, _mm256_setzero_si256()), t->must_bit);
    return _mm256_xor_si256(must, special);
}

size_t AVX2 nvx_utf8_check_avx2(const uint8_t *data, size_t length)
{
    const avx2_tables t = {
        table256(PREV_HIGH), table256(PREV_LOW), table256(CUR_HIGH), _mm256_set1_epi8(0x0F),
        _mm256_set1_epi8((char)0x80), _mm256_set1_epi8((char)(0xE0 - 1)), _mm256_set1_epi8((char)(0xF0 - 1)),
    };
    const __m256i incomplete = _mm256_loadu_si256((const __m256i *)(INCOMPLETE_64 + 32));
    __m256i prev = _mm256_setzero_si256();
    __m256i prev_incomplete = _mm256_setzero_si256();
    uint8_t last[64];
    size_t i = 0;
    while (i < length) {
        const uint8_t *block = data + i;
        if (length - i < 64) { /* pad the tail with ASCII, which closes nothing and opens nothing */
            memset(last, 0, sizeof last);
            memcpy(last, block, length - i);
            block = last;
        }
        __m256i a = _mm256_loadu_si256((const __m256i *)block);
        __m256i b = _mm256_loadu_si256((const __m256i *)(block + 32));
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) {
            if (!_mm256_testz_si256(prev_incomplete, prev_incomplete)) return i;
            prev_incomplete = _mm256_setzero_si256();
        } else {
            __m256i err = _mm256_or_si256(avx2_errors(&t, a, prev), avx2_errors(&t, b, a));
            if (!_mm256_testz_si256(err, err)) return i;
            prev_incomplete = _mm256_subs_epu8(b, incomplete);
        }
        prev = b;
        i += 64;
    }
    if (!_mm256_testz_si256(prev_incomplete, prev_incomplete)) return i - 64;
    return length;
}

/* ------------------------------------------------------------- AVX-512BW: 64 bytes per block */

#define AVX512 __attribute__((target("avx512f,avx512bw")))

typedef struct {
    __m512i prev_high, prev_low, cur_high, nibble, must_bit, third, fourth;
} avx512_tables;

AVX512 static inline __m512i table512(const uint8_t *t)
{
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)t));
}

AVX512 static inline __m512i avx512_errors(const avx512_tables *t, __m512i input, __m512i prev_input)
{
    __m512i joined = _mm512_alignr_epi64(input, prev_input, 6);
    __m512i prev1 = _mm512_alignr_epi8(input, joined, 15);
    __m512i prev2 = _mm512_alignr_epi8(input, joined, 14);
    __m512i prev3 = _mm512_alignr_epi8(input, joined, 13);
    __m512i special = _mm512_and_si512(
        _mm512_and_si512(
            _mm512_shuffle_epi8(t->prev_high, _mm512_and_si512(_mm512_srli_epi16(prev1, 4), t->nibble)),
            _mm512_shuffle_epi8(t->prev_low, _mm512_and_si512(prev1, t->nibble))),
        _mm512_shuffle_epi8(t->cur_high, _mm512_and_si512(_mm512_srli_epi16(input, 4), t->nibble)));
    __mmask64 late = _mm512_cmpgt_epu8_mask(prev2, t->third) | _mm512_cmpgt_epu8_mask(prev3, t->fourth);
    return _mm512_xor_si512(_mm512_maskz_mov_epi8(late, t->must_bit), special);
}

size_t AVX512 nvx_utf8_check_avx512(const uint8_t *data, size_t length)
{
    const avx512_tables t = {
        table512(PREV_HIGH), table512(PREV_LOW), table512(CUR_HIGH), _mm512_set1_epi8(0x0F),
        _mm512_set1_epi8((char)0x80), _mm512_set1_epi8((char)(0xE0 - 1)), _mm512_set1_epi8((char)(0xF0 - 1)),
    };
    const __m512i incomplete = _mm512_loadu_si512((const void *)INCOMPLETE_64);
    __m512i prev = _mm512_setzero_si512();
    __mmask64 prev_incomplete = 0;
    size_t i = 0;
    while (i < length) {
        __m512i input;
        if (length - i >= 64) {
            input = _mm512_loadu_si512((const void *)(data + i));
        } else { /* masked load: the missing bytes read as ASCII zeros and are never touched */
            input = _mm512_maskz_loadu_epi8((UINT64_C(1) << (length - i)) - 1, data + i);
        }
        if (_mm512_movepi8_mask(input) == 0) {
            if (prev_incomplete) return i;
        } else {
            __m512i err = avx512_errors(&t, input, prev);
            if (_mm512_test_epi8_mask(err, err)) return i;
            __m512i open = _mm512_subs_epu8(input, incomplete);
            prev_incomplete = _mm512_test_epi8_mask(open, open);
        }
        prev = input;
        i += 64;
    }
    if (prev_incomplete) return i - 64;
    return length;
}

#endif
