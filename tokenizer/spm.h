/* A small C interface over libsentencepiece (C++), implemented in spm.cpp with
 * extern "C" linkage: load a tokenizer.model, encode, and read piece metadata. Internal to
 * tokenizer/ (tok.h is the public interface). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spm spm_t;

int spm_load(spm_t **out, const char *path);
void spm_free(spm_t *s);
/* *ids malloc'd. */
int spm_encode(const spm_t *s, const char *text, size_t len, int32_t **ids, int *n);
/* no_dummy_prefix: encode as if the model's add_dummy_prefix were off (no leading "▁"). */
int spm_encode_ex(const spm_t *s, const char *text, size_t len, int no_dummy_prefix, int32_t **ids, int *n);
int spm_piece_size(const spm_t *s);
/* Piece text (e.g. "▁the", "<0x0A>", "<s>"); pointer valid while s lives. */
const char *spm_piece(const spm_t *s, int id, size_t *len);
int spm_piece_to_id(const spm_t *s, const char *piece, size_t len); /* -1 if absent */
int spm_bos_id(const spm_t *s);
int spm_eos_id(const spm_t *s);
int spm_pad_id(const spm_t *s);
int spm_unk_id(const spm_t *s);
enum { SPM_NORMAL = 0, SPM_CONTROL = 1, SPM_UNKNOWN = 2, SPM_BYTE = 3, SPM_UNUSED = 4, SPM_USER = 5 };
int spm_piece_type(const spm_t *s, int id);
/* The piece's model score (unigram log-probability; BPE merge priority). */
float spm_score(const spm_t *s, int id);

#ifdef __cplusplus
}
#endif
