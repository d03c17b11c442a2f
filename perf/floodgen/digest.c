/*
 * digest.c — HTTP digest (RFC 7616, SIP use in RFC 8760) for the generator.
 *
 * The EVP_MD objects are fetched once: an implicit fetch per call costs more
 * than the hash itself for these short inputs (DESIGN.md, "Dependencies").
 * One EVP_MD_CTX is reused; the generator is single-threaded.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "flood.h"

static EVP_MD *md_md5;
static EVP_MD *md_sha256;
static EVP_MD_CTX *md_ctx;

int digest_init(void)
{
	md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	md_ctx = EVP_MD_CTX_new();
	if (md_md5 == NULL || md_sha256 == NULL || md_ctx == NULL)
		return -1;
	return 0;
}

void digest_fini(void)
{
	EVP_MD_CTX_free(md_ctx);
	EVP_MD_free(md_md5);
	EVP_MD_free(md_sha256);
}

void digest_hex(enum digest_algo algo, const char *data, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[EVP_MAX_MD_SIZE];
	unsigned int raw_len = 0;

	EVP_DigestInit_ex2(md_ctx, algo == DIGEST_SHA256 ? md_sha256 : md_md5, NULL);
	EVP_DigestUpdate(md_ctx, data, len);
	EVP_DigestFinal_ex(md_ctx, raw, &raw_len);
	for (unsigned int i = 0; i < raw_len; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * raw_len] = '\0';
}

void digest_ha1(enum digest_algo algo, const char *user, const char *realm,
		const char *password, char *out)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s:%s:%s", user, realm, password);

	if (n < 0 || (size_t)n >= sizeof(buf))
		n = (int)sizeof(buf) - 1;
	digest_hex(algo, buf, (size_t)n, out);
}

void digest_response(enum digest_algo algo, const char *ha1, const char *nonce,
		     const char *nc, const char *cnonce, const char *ha2, char *out)
{
	char buf[512];
	int n;

	if (nc == NULL)     /* RFC 2069 compatibility: the challenge had no qop */
		n = snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, nonce, ha2);
	else
		n = snprintf(buf, sizeof(buf), "%s:%s:%s:%s:auth:%s", ha1, nonce, nc, cnonce, ha2);

	if (n < 0 || (size_t)n >= sizeof(buf))
		n = (int)sizeof(buf) - 1;
	digest_hex(algo, buf, (size_t)n, out);
}
