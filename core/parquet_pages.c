/* Parquet column chunks to (repetition, definition, value) triples: pages decompressed
 * (snappy, gzip, zstd, lz4, brotli), levels in the RLE / bit-packed hybrid, values PLAIN, dictionary,
 * DELTA_* or BYTE_STREAM_SPLIT encoded (core/parquet_internal.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <brotli/decode.h>
#include <lz4.h>
#include <zlib.h>
#include <zstd.h>

#include "core/err.h"
#include "core/parquet_internal.h"

/* ---- decompression */

/* Raw snappy (the block format parquet uses). */
static int unsnappy(const uint8_t *s, size_t n, uint8_t *d, size_t dn) {
    size_t i = 0, o = 0;
    uint64_t len;
    if (pq_uvar(s, n, &i, 5, &len) || len != dn) return -1;
    while (i < n) {
        uint8_t tag = s[i++];
        size_t l, off = 0;
        if ((tag & 3) == 0) {
            l = tag >> 2;
            if (l >= 60) {
                size_t nb = l - 59;
                if (i + nb > n) return -1;
                l = 0;
                for (size_t k = 0; k < nb; k++) l |= (size_t)s[i + k] << (8 * k);
                i += nb;
            }
            l++;
            if (l > n - i || l > dn - o) return -1;
            memcpy(d + o, s + i, l);
            i += l, o += l;
            continue;
        }
        if ((tag & 3) == 1) {
            if (i >= n) return -1;
            l = ((tag >> 2) & 7) + 4;
            off = ((size_t)(tag >> 5) << 8) | s[i++];
        } else {
            size_t nb = (tag & 3) == 2 ? 2 : 4;
            if (i + nb > n) return -1;
            l = (tag >> 2) + 1;
            for (size_t k = 0; k < nb; k++) off |= (size_t)s[i + k] << (8 * k);
            i += nb;
        }
        if (!off || off > o || l > dn - o) return -1;
        for (size_t k = 0; k < l; k++, o++) d[o] = d[o - off]; /* may overlap */
    }
    return o == dn ? 0 : -1;
}

static int ungzip(const uint8_t *s, size_t n, uint8_t *d, size_t dn) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK) return -1;
    z.next_in = (uint8_t *)s, z.avail_in = (uInt)n, z.next_out = d, z.avail_out = (uInt)dn;
    int r = inflate(&z, Z_FINISH);
    size_t got = dn - z.avail_out;
    inflateEnd(&z);
    return r == Z_STREAM_END && got == dn ? 0 : -1;
}

/* One raw LZ4 block of exactly dn bytes. */
static int unlz4_raw(const uint8_t *s, size_t n, uint8_t *d, size_t dn) {
    if (n > INT32_MAX || dn > INT32_MAX) return -1;
    return LZ4_decompress_safe((const char *)s, (char *)d, (int)n, (int)dn) == (int)dn ? 0 : -1;
}

/* Parquet's deprecated LZ4 codec: Hadoop's framing (blocks of a big-endian decompressed and
 * compressed length, then the raw block), or, as some older writers did, one raw block. */
static int unlz4_hadoop(const uint8_t *s, size_t n, uint8_t *d, size_t dn) {
    size_t i = 0, o = 0;
    while (n - i >= 8) {
        uint64_t dl = 0, cl = 0;
        for (int b = 0; b < 4; b++) dl = dl << 8 | s[i + b], cl = cl << 8 | s[i + 4 + b];
        if (cl > n - i - 8 || dl > dn - o || unlz4_raw(s + i + 8, (size_t)cl, d + o, (size_t)dl)) break;
        i += 8 + (size_t)cl, o += (size_t)dl;
    }
    if (i == n && o == dn) return 0;
    return unlz4_raw(s, n, d, dn);
}

static int unbrotli(const uint8_t *s, size_t n, uint8_t *d, size_t dn) {
    size_t got = dn;
    return BrotliDecoderDecompress(n, s, &got, d) == BROTLI_DECODER_RESULT_SUCCESS && got == dn ? 0 : -1;
}

int pq_decompress(int codec, const uint8_t *s, size_t n, size_t dn, uint8_t **out, const char *path) {
    static const char *const names[] = {"none", "snappy", "gzip", "lzo", "brotli", "lz4", "zstd", "lz4_raw"};
    *out = NULL;
    if (codec < 1 || codec > 7 || codec == 3)
        return rlc_errc(RLC_EUNSUP, "%s: compression %s is not read (all but LZO are)", path,
                        codec == 3 ? names[codec] : "unknown");
    uint8_t *d = malloc(dn ? dn : 1);
    if (!d) return RLC_ENOMEM;
    int bad = codec == 1   ? unsnappy(s, n, d, dn)
              : codec == 2 ? ungzip(s, n, d, dn)
              : codec == 4 ? unbrotli(s, n, d, dn)
              : codec == 5 ? unlz4_hadoop(s, n, d, dn)
              : codec == 7 ? unlz4_raw(s, n, d, dn)
                           : (ZSTD_decompress(d, dn, s, n) != dn);
    if (bad) {
        free(d);
        return rlc_errc(RLC_EFMT, "%s: a %s page does not decompress", path, names[codec]);
    }
    *out = d;
    return 0;
}

/* ---- values and levels */

/* w bits (at most 64) starting at bit `bit` of p, least significant bit first. */
static uint64_t bits_at(const uint8_t *p, uint64_t bit, uint64_t w) {
    uint64_t x = 0;
    for (uint64_t b = 0; b < w; b++, bit++) x |= (uint64_t)((p[bit / 8] >> (bit % 8)) & 1) << b;
    return x;
}

/* The RLE / bit-packed hybrid: count values of bw bits from p[0..n). */
static int hybrid(const uint8_t *p, size_t n, int bw, int64_t count, int32_t *out) {
    size_t i = 0;
    int64_t k = 0;
    size_t vb = (size_t)(bw + 7) / 8;
    while (k < count) {
        uint64_t h;
        if (pq_uvar(p, n, &i, 6, &h)) return -1;
        if (h & 1) { /* bit-packed: (h >> 1) groups of 8 */
            uint64_t vals = (h >> 1) * 8, bytes = (h >> 1) * (uint64_t)bw;
            if (bytes > n - i) return -1;
            for (uint64_t v = 0; v < vals && k < count; v++, k++)
                out[k] = (int32_t)bits_at(p + i, v * (uint64_t)bw, (uint64_t)bw);
            i += (size_t)bytes;
        } else {
            uint64_t run = h >> 1;
            if (vb > n - i) return -1;
            int32_t x = (int32_t)pq_le(p + i, (int)vb);
            i += vb;
            for (uint64_t r = 0; r < run && k < count; r++) out[k++] = x;
        }
    }
    return 0;
}

static int bit_width(int v) {
    int b = 0;
    while (v >> b) b++;
    return b;
}

/* The byte width of a fixed-width type's values (tlen: FIXED_LEN_BYTE_ARRAY's), 0 for the others. */
static size_t fixed_width(int type, int tlen) {
    return type == PQ_INT32 || type == PQ_FLOAT ? 4
           : type == PQ_INT64 || type == PQ_DOUBLE ? 8
           : type == PQ_INT96                      ? 12
           : type == PQ_FIXED && tlen > 0          ? (size_t)tlen
                                                   : 0;
}

/* count PLAIN values of `type` (tlen: FIXED_LEN_BYTE_ARRAY's length) from p[0..n); *used
 * receives the bytes read. */
static int plain(int type, int tlen, const uint8_t *p, size_t n, int64_t count, pq_val_t *v, size_t *used) {
    size_t i = 0;
    for (int64_t k = 0; k < count; k++) {
        memset(&v[k], 0, sizeof v[k]);
        if (type == PQ_BOOLEAN) {
            if ((size_t)k / 8 >= n) return -1;
            v[k].i = (p[k / 8] >> (k % 8)) & 1;
            i = (size_t)(k / 8 + 1);
        } else if (type == PQ_INT32 || type == PQ_FLOAT) {
            if (n - i < 4) return -1;
            uint32_t x = (uint32_t)pq_le(p + i, 4);
            float f;
            memcpy(&f, &x, 4);
            v[k].i = (int32_t)x, v[k].d = f;
            i += 4;
        } else if (type == PQ_INT64 || type == PQ_DOUBLE) {
            if (n - i < 8) return -1;
            uint64_t x = pq_le(p + i, 8);
            memcpy(&v[k].d, &x, 8);
            v[k].i = (int64_t)x;
            i += 8;
        } else if (type == PQ_INT96 || type == PQ_FIXED) { /* the bytes as they are */
            size_t w = fixed_width(type, tlen);
            if (!w || n - i < w) return -1;
            v[k].s = p + i, v[k].len = (uint32_t)w;
            i += w;
        } else { /* BYTE_ARRAY */
            if (n - i < 4) return -1;
            uint32_t l = (uint32_t)pq_le(p + i, 4);
            i += 4;
            if (l > n - i) return -1;
            v[k].s = p + i, v[k].len = l;
            i += l;
        }
    }
    if (used) *used = i;
    return 0;
}

/* ---- one column chunk: its (repetition, definition, value) triples */


void pq_col_free(pq_col_t *c) {
    for (int i = 0; i < c->nbufs; i++) free(c->bufs[i]);
    free(c->bufs), free(c->rep), free(c->def), free(c->vals), free(c->dict);
    memset(c, 0, sizeof *c);
}

/* DELTA_BINARY_PACKED: the first `count` of its integers into out; *used: the bytes it takes. */
static int delta_ints(const uint8_t *p, size_t n, int64_t count, int64_t *out, size_t *used) {
    size_t i = 0;
    uint64_t block, nmini, total, z;
    if (pq_uvar(p, n, &i, 10, &block) || pq_uvar(p, n, &i, 10, &nmini) || pq_uvar(p, n, &i, 10, &total) ||
        pq_uvar(p, n, &i, 10, &z)) return -1;
    if (!nmini || block % nmini || (block / nmini) % 8 || block > (1u << 20) || total < (uint64_t)count ||
        total > (uint64_t)n * 8 + 1)
        return -1;
    uint64_t vpm = block / nmini, prev = (z >> 1) ^ -(z & 1), k = 0;
    if (total && count) out[0] = (int64_t)prev;
    for (k = total ? 1 : 0; k < total;) {
        uint64_t zm;
        if (pq_uvar(p, n, &i, 10, &zm) || nmini > n - i) return -1;
        uint64_t min_delta = (zm >> 1) ^ -(zm & 1);
        const uint8_t *widths = p + i;
        i += nmini;
        for (uint64_t m = 0; m < nmini && k < total; m++) {
            uint64_t w = widths[m], bytes = vpm * w / 8;
            if (w > 64 || bytes > n - i) return -1;
            for (uint64_t j = 0; j < vpm && k < total; j++, k++) {
                prev += min_delta + bits_at(p + i, j * w, w); /* wraps as the writer's arithmetic does */
                if (k < (uint64_t)count) out[k] = (int64_t)prev;
            }
            i += (size_t)bytes;
        }
    }
    *used = i;
    return 0;
}

/* DELTA_LENGTH_BYTE_ARRAY (prefixed: DELTA_BYTE_ARRAY, whose values share a prefix with the
 * value before; rebuilt in a buffer that c keeps). */
static int delta_strings(pq_col_t *c, int prefixed, const uint8_t *p, size_t n, int64_t cnt, pq_val_t *v) {
    size_t nb = (size_t)(cnt ? cnt : 1), u1 = 0, u2 = 0;
    int64_t *pre = calloc(nb, sizeof *pre), *len = malloc(nb * sizeof *len);
    int bad = !pre || !len || (prefixed && delta_ints(p, n, cnt, pre, &u1)) ||
              delta_ints(p + u1, n - u1, cnt, len, &u2);
    size_t at = u1 + u2, total = 0;
    int64_t full = 0; /* the whole length of the value before */
    for (int64_t k = 0; !bad && k < cnt; k++) {
        if (pre[k] < 0 || len[k] < 0 || (uint64_t)len[k] > n - at || (k == 0 && pre[k]) || pre[k] > full ||
            len[k] > UINT32_MAX - pre[k]) {
            bad = 1;
        } else {
            v[k] = (pq_val_t){p + at, (uint32_t)len[k], 0, 0};
            at += (size_t)len[k];
            full = pre[k] + len[k];
            total += (size_t)full;
        }
    }
    if (!bad && prefixed && total) { /* value k = the first pre[k] bytes of value k-1, then its suffix */
        uint8_t *buf = malloc(total), **nbufs = buf ? realloc(c->bufs, sizeof *nbufs * (size_t)(c->nbufs + 2)) : NULL;
        if (!nbufs) free(buf), bad = 1;
        else {
            c->bufs = nbufs, c->bufs[c->nbufs++] = buf;
            size_t o = 0;
            for (int64_t k = 0; k < cnt; k++) {
                if (k && pre[k]) memcpy(buf + o, v[k - 1].s, (size_t)pre[k]);
                memcpy(buf + o + (k ? pre[k] : 0), v[k].s, v[k].len);
                v[k].s = buf + o, v[k].len += (uint32_t)(k ? pre[k] : 0);
                o += v[k].len;
            }
        }
    }
    free(pre), free(len);
    return bad ? -1 : 0;
}

/* BYTE_STREAM_SPLIT: byte b of value k at p[b * cnt + k]; gathered in a buffer c keeps, then
 * read as PLAIN. */
static int stream_split(pq_col_t *c, int type, int tlen, const uint8_t *p, size_t n, int64_t cnt, pq_val_t *v) {
    size_t w = type == PQ_INT96 ? 0 : fixed_width(type, tlen);
    if (!w || (uint64_t)cnt > n / w) return -1;
    size_t bytes = (size_t)cnt * w;
    uint8_t *buf = malloc(bytes ? bytes : 1), **nbufs = buf ? realloc(c->bufs, sizeof *nbufs * (size_t)(c->nbufs + 2))
                                                             : NULL;
    if (!nbufs) {
        free(buf);
        return -1;
    }
    c->bufs = nbufs, c->bufs[c->nbufs++] = buf;
    for (int64_t k = 0; k < cnt; k++)
        for (size_t b = 0; b < w; b++) buf[(size_t)k * w + b] = p[b * (size_t)cnt + (size_t)k];
    return plain(type, tlen, buf, bytes, cnt, v, NULL);
}

/* The values section of a data page: cnt values in encoding enc (-2: an encoding not read). */
static int page_values(pq_col_t *c, int type, int tlen, int enc, const uint8_t *p, size_t n, int64_t cnt) {
    pq_val_t *v = c->vals + c->nvals;
    if (enc == 0) return plain(type, tlen, p, n, cnt, v, NULL);
    if (enc == 3 && type == PQ_BOOLEAN) { /* RLE booleans: a 4-byte length, then the hybrid */
        int32_t *b = malloc(sizeof *b * (size_t)(cnt ? cnt : 1));
        int bad = !b || n < 4 || hybrid(p + 4, n - 4, 1, cnt, b);
        for (int64_t k = 0; !bad && k < cnt; k++) memset(&v[k], 0, sizeof *v), v[k].i = b[k];
        free(b);
        return bad ? -1 : 0;
    }
    if (enc == 5 && (type == PQ_INT32 || type == PQ_INT64)) {
        int64_t *x = malloc(sizeof *x * (size_t)(cnt ? cnt : 1));
        size_t used;
        int bad = !x || delta_ints(p, n, cnt, x, &used);
        for (int64_t k = 0; !bad && k < cnt; k++)
            v[k] = (pq_val_t){NULL, 0, type == PQ_INT32 ? (int64_t)(int32_t)x[k] : x[k], 0};
        free(x);
        return bad ? -1 : 0;
    }
    if ((enc == 6 || enc == 7) && type == PQ_BYTE_ARRAY) return delta_strings(c, enc == 7, p, n, cnt, v);
    if (enc == 7 && type == PQ_FIXED) { /* DELTA_BYTE_ARRAY of fixed-length values */
        int bad = delta_strings(c, 1, p, n, cnt, v);
        for (int64_t k = 0; !bad && k < cnt; k++) bad = v[k].len != (uint32_t)tlen;
        return bad ? -1 : 0;
    }
    if (enc == 9) return stream_split(c, type, tlen, p, n, cnt, v);
    if (enc != 2 && enc != 8) return -2;
    if (!c->dict || n < 1 || p[0] > 32) return -1;
    int32_t *idx = malloc(sizeof *idx * (size_t)(cnt ? cnt : 1));
    int bad = !idx || hybrid(p + 1, n - 1, p[0], cnt, idx);
    for (int64_t k = 0; !bad && k < cnt; k++) {
        if (idx[k] < 0 || idx[k] >= c->ndict) bad = 1;
        else v[k] = c->dict[idx[k]];
    }
    free(idx);
    return bad ? -1 : 0;
}

/* One data page (v1 or v2) of a column with the given maximum levels. */
static int data_page(pq_col_t *c, const pq_page_t *h, const pq_chunk_t *ch, int tlen, const uint8_t *p, size_t n,
                     int max_rep, int max_def, const char *path) {
    int type = ch->type, codec = ch->codec;
    int64_t cnt = h->num_values;
    if (c->n + cnt > c->cap) return rlc_errc(RLC_EFMT, "%s: a column holds more values than its metadata says", path);
    int32_t *rep = c->rep + c->n, *def = c->def + c->n;
    size_t lv[2] = {0, 0}; /* v2: the levels' byte lengths */
    const uint8_t *q = p;
    size_t m = n;
    if (h->type == PQ_PAGE_DATA_V2) {
        lv[0] = (size_t)h->rep_len, lv[1] = (size_t)h->def_len;
        if (lv[0] + lv[1] > n) return rlc_errc(RLC_EFMT, "%s: a page's levels overrun it", path);
    }
    for (int which = 0; which < 2; which++) { /* repetition, then definition levels */
        int max = which ? max_def : max_rep;
        int32_t *out = which ? def : rep;
        if (!max) {
            memset(out, 0, sizeof *out * (size_t)cnt);
            continue;
        }
        size_t len = lv[which];
        if (h->type == PQ_PAGE_DATA) {
            if ((which ? h->def_encoding : h->rep_encoding) != 3)
                return rlc_errc(RLC_EUNSUP, "%s: levels in the deprecated BIT_PACKED encoding are not read", path);
            if (m < 4) return rlc_errc(RLC_EFMT, "%s: a page's levels overrun it", path);
            len = (size_t)pq_le(q, 4);
            q += 4, m -= 4;
            if (len > m) return rlc_errc(RLC_EFMT, "%s: a page's levels overrun it", path);
        }
        if (hybrid(q, len, bit_width(max), cnt, out)) return rlc_errc(RLC_EFMT, "%s: damaged levels in a page", path);
        q += len, m -= len;
    }
    int64_t nv = 0;
    for (int64_t k = 0; k < cnt; k++) {
        if (rep[k] > max_rep || def[k] > max_def) return rlc_errc(RLC_EFMT, "%s: a level beyond its maximum", path);
        nv += def[k] == max_def;
    }
    uint8_t *buf = NULL;
    if (h->type == PQ_PAGE_DATA_V2 && codec && h->v2_compressed) {
        size_t dn = (size_t)h->uncompressed - lv[0] - lv[1];
        if ((size_t)h->uncompressed < lv[0] + lv[1]) return rlc_errc(RLC_EFMT, "%s: bad page sizes", path);
        int rc = pq_decompress(codec, q, m, dn, &buf, path);
        if (rc) return rc;
        q = buf, m = dn;
        c->bufs[c->nbufs++] = buf; /* room reserved by the caller */
    }
    int r = page_values(c, type, tlen, h->encoding, q, m, nv);
    static const char *const enc[] = {"PLAIN", "GROUP_VAR_INT", "PLAIN_DICTIONARY", "RLE", "BIT_PACKED",
                                      "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
                                      "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
    if (r == -2)
        return rlc_errc(RLC_EUNSUP, "%s: values in the %s encoding are not read for this column's type", path,
                        h->encoding >= 0 && h->encoding < 10 ? enc[h->encoding] : "unknown");
    if (r) return rlc_errc(RLC_EFMT, "%s: damaged values in a page", path);
    c->n += cnt, c->nvals += nv;
    return 0;
}

/* A column chunk's pages, from the whole file f[0..fn). */
int pq_read_chunk(const uint8_t *f, size_t fn, const pq_chunk_t *ch, int tlen, int max_rep, int max_def,
                  pq_col_t *c, const char *path) {
    memset(c, 0, sizeof *c);
    int64_t start = ch->dict_off > 0 && ch->dict_off < ch->data_off ? ch->dict_off : ch->data_off;
    if (start < 4 || ch->size < 0 || ch->num_values < 0 || (uint64_t)start > fn || (uint64_t)ch->size > fn - start)
        return rlc_errc(RLC_EFMT, "%s: a column chunk lies outside the file", path);
    if (ch->num_values > PQ_MAX_CHUNK_VALUES) /* a bound on memory whatever the file claims */
        return rlc_errc(RLC_EUNSUP, "%s: a column chunk of %lld values, more than rlc reads (%d): write the file with "
                                    "smaller row groups",
                        path, (long long)ch->num_values, PQ_MAX_CHUNK_VALUES);
    c->cap = ch->num_values;
    size_t nb = (size_t)(c->cap ? c->cap : 1);
    c->rep = malloc(sizeof *c->rep * nb), c->def = malloc(sizeof *c->def * nb), c->vals = malloc(sizeof *c->vals * nb);
    if (!c->rep || !c->def || !c->vals) return RLC_ENOMEM;
    size_t pos = (size_t)start, end = pos + (size_t)ch->size;
    int rc = 0;
    while (!rc && c->n < c->cap && pos < end) {
        pq_page_t h;
        size_t used;
        if (pq_page_parse(f + pos, end - pos, &h, &used) || (size_t)h.compressed > end - pos - used)
            return rlc_errc(RLC_EFMT, "%s: a damaged page header", path);
        const uint8_t *p = f + pos + used;
        pos += used + (size_t)h.compressed;
        if (h.type != PQ_PAGE_DATA && h.type != PQ_PAGE_DATA_V2 && h.type != PQ_PAGE_DICT) continue;
        uint8_t **nbufs = realloc(c->bufs, sizeof *nbufs * (size_t)(c->nbufs + 1));
        if (!nbufs) return RLC_ENOMEM;
        c->bufs = nbufs;
        size_t n = (size_t)h.compressed;
        if (ch->codec && h.type != PQ_PAGE_DATA_V2) { /* v2 pages keep their levels uncompressed */
            uint8_t *buf;
            if ((rc = pq_decompress(ch->codec, p, n, (size_t)h.uncompressed, &buf, path))) return rc;
            c->bufs[c->nbufs++] = buf;
            p = buf, n = (size_t)h.uncompressed;
            nbufs = realloc(c->bufs, sizeof *nbufs * (size_t)(c->nbufs + 1));
            if (!nbufs) return RLC_ENOMEM;
            c->bufs = nbufs;
        }
        if (h.type == PQ_PAGE_DICT) {
            free(c->dict);
            c->ndict = h.num_values;
            c->dict = malloc(sizeof *c->dict * (size_t)(c->ndict ? c->ndict : 1));
            if (!c->dict) return RLC_ENOMEM;
            if ((uint64_t)c->ndict > n * 8 + 8 || plain(ch->type, tlen, p, n, c->ndict, c->dict, NULL))
                return rlc_errc(RLC_EFMT, "%s: a damaged dictionary page", path);
        } else {
            rc = data_page(c, &h, ch, tlen, p, n, max_rep, max_def, path);
        }
    }
    if (!rc && c->n != c->cap) rc = rlc_errc(RLC_EFMT, "%s: a column chunk ends before its values", path);
    return rc;
}

