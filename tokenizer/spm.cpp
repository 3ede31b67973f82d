// The C side of libsentencepiece: loading, encoding and piece metadata behind plain C
// functions (spm.h). Errors from the library become rlc error messages; no C++ exception
// or type crosses the boundary.
#include "tokenizer/spm.h"

#include <sentencepiece_processor.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
#include "core/err.h"
}

struct spm {
    sentencepiece::SentencePieceProcessor proc;
    sentencepiece::SentencePieceProcessor noprefix; /* same model, add_dummy_prefix off */
    bool has_noprefix = false;
    std::vector<std::string> pieces;
    std::vector<int> types;
};

/* ---- protobuf wire format, just enough to switch NormalizerSpec.add_dummy_prefix off ---- */

static bool read_varint(const std::string &b, size_t &i, uint64_t &v) {
    v = 0;
    for (int shift = 0; shift < 64 && i < b.size(); shift += 7) {
        uint8_t c = (uint8_t)b[i++];
        v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) return true;
    }
    return false;
}

static void put_varint(std::string &o, uint64_t v) {
    while (v >= 0x80) {
        o.push_back((char)(v | 0x80));
        v >>= 7;
    }
    o.push_back((char)v);
}

/* Copy the fields of a message, calling keep(field) to drop some; false on malformed input. */
static bool copy_fields(const std::string &b, std::string &o, bool (*keep)(int), int *found3) {
    size_t i = 0;
    while (i < b.size()) {
        size_t start = i;
        uint64_t tag, v;
        if (!read_varint(b, i, tag)) return false;
        int field = (int)(tag >> 3), wt = (int)(tag & 7);
        if (wt == 0) {
            if (!read_varint(b, i, v)) return false;
        } else if (wt == 1) {
            i += 8;
        } else if (wt == 5) {
            i += 4;
        } else if (wt == 2) {
            if (!read_varint(b, i, v) || v > b.size() - i) return false;
            if (field == 3 && found3) { /* ModelProto.normalizer_spec */
                std::string inner = b.substr(i, v), ni;
                if (!copy_fields(inner, ni, [](int f) { return f != 3; }, nullptr)) return false;
                ni += std::string("\x18\x00", 2); /* add_dummy_prefix = false */
                o.push_back((char)0x1A);
                put_varint(o, ni.size());
                o += ni;
                *found3 = 1;
                i += v;
                continue;
            }
            i += v;
        } else {
            return false;
        }
        if (i > b.size()) return false;
        if (keep(field)) o.append(b, start, i - start);
    }
    return true;
}

static bool without_dummy_prefix(const std::string &model, std::string &out) {
    int found = 0;
    out.clear();
    if (!copy_fields(model, out, [](int) { return true; }, &found)) return false;
    if (!found) out += std::string("\x1A\x02\x18\x00", 4);
    return true;
}

extern "C" int spm_load(spm_t **out, const char *path) {
    *out = nullptr;
    std::ifstream f(path, std::ios::binary);
    if (!f) return rlc_err_errno("sentencepiece: cannot open %s", path);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string bytes = ss.str();
    if (bytes.empty()) return rlc_errc(RLC_EFMT, "sentencepiece: %s is empty", path);
    spm *s = new (std::nothrow) spm();
    if (!s) return rlc_errc(RLC_ENOMEM, "sentencepiece: out of memory");
    try {
        auto st = s->proc.LoadFromSerializedProto(bytes);
        if (!st.ok()) {
            int rc = rlc_errc(RLC_EFMT, "sentencepiece: %s is not a valid model (%s)", path, st.ToString().c_str());
            delete s;
            return rc;
        }
        /* for text after a special token when transformers' legacy=false: no "▁" prepended */
        std::string np;
        if (without_dummy_prefix(bytes, np)) s->has_noprefix = s->noprefix.LoadFromSerializedProto(np).ok();
        int n = s->proc.GetPieceSize();
        if (n <= 0) {
            delete s;
            return rlc_errc(RLC_EFMT, "sentencepiece: %s has no pieces", path);
        }
        s->pieces.resize(n);
        s->types.resize(n);
        for (int i = 0; i < n; i++) {
            s->pieces[i] = s->proc.IdToPiece(i);
            int ty = SPM_NORMAL;
            if (s->proc.IsControl(i)) ty = SPM_CONTROL;
            else if (s->proc.IsUnknown(i)) ty = SPM_UNKNOWN;
            else if (s->proc.IsByte(i)) ty = SPM_BYTE;
            else if (s->proc.IsUnused(i)) ty = SPM_UNUSED;
            s->types[i] = ty;
        }
    } catch (const std::exception &e) {
        delete s;
        return rlc_errc(RLC_EFMT, "sentencepiece: %s: %s", path, e.what());
    }
    *out = s;
    return 0;
}

extern "C" void spm_free(spm_t *s) { delete s; }

extern "C" int spm_encode(const spm_t *s, const char *text, size_t len, int32_t **ids, int *n) {
    return spm_encode_ex(s, text, len, 0, ids, n);
}

extern "C" int spm_encode_ex(const spm_t *s, const char *text, size_t len, int no_dummy_prefix, int32_t **ids, int *n) {
    *ids = nullptr;
    *n = 0;
    std::vector<int> v;
    if (no_dummy_prefix && !s->has_noprefix) return rlc_errc(RLC_EUNSUP, "sentencepiece: cannot switch the dummy prefix off");
    try {
        auto st = (no_dummy_prefix ? s->noprefix : s->proc).Encode(absl::string_view(text, len), &v);
        if (!st.ok()) return rlc_errc(RLC_ERR, "sentencepiece: encode failed (%s)", st.ToString().c_str());
    } catch (const std::exception &e) {
        return rlc_errc(RLC_ERR, "sentencepiece: encode failed (%s)", e.what());
    }
    int32_t *out = (int32_t *)malloc((v.size() + 1) * sizeof(int32_t));
    if (!out) return rlc_errc(RLC_ENOMEM, "sentencepiece: out of memory");
    for (size_t i = 0; i < v.size(); i++) out[i] = v[i];
    *ids = out;
    *n = (int)v.size();
    return 0;
}

extern "C" int spm_piece_size(const spm_t *s) { return (int)s->pieces.size(); }

extern "C" const char *spm_piece(const spm_t *s, int id, size_t *len) {
    if (id < 0 || id >= (int)s->pieces.size()) {
        *len = 0;
        return "";
    }
    *len = s->pieces[id].size();
    return s->pieces[id].c_str();
}

extern "C" int spm_piece_to_id(const spm_t *s, const char *piece, size_t len) {
    int id = s->proc.PieceToId(absl::string_view(piece, len));
    // PieceToId answers unk_id for unknown pieces: only an exact match counts.
    if (id < 0 || id >= (int)s->pieces.size() || s->pieces[id] != std::string(piece, len)) return -1;
    return id;
}

extern "C" int spm_bos_id(const spm_t *s) { return s->proc.bos_id(); }
extern "C" int spm_eos_id(const spm_t *s) { return s->proc.eos_id(); }
extern "C" int spm_pad_id(const spm_t *s) { return s->proc.pad_id(); }
extern "C" int spm_unk_id(const spm_t *s) { return s->proc.unk_id(); }
extern "C" int spm_piece_type(const spm_t *s, int id) {
    return (id < 0 || id >= (int)s->types.size()) ? -1 : s->types[id];
}

extern "C" float spm_score(const spm_t *s, int id) {
    return (id < 0 || id >= (int)s->pieces.size()) ? 0.0f : s->proc.GetScore(id);
}
