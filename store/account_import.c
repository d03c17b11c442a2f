/* account_import.c - CSV and field input to accounts (libcsv, OpenSSL). */
#include "account_import.h"

#include <csv.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_BATCH 10000
#define MAX_COLUMNS 8
#define FIELD_MAX 1024

int store_ha1_hex(enum store_ha1_algorithm alg, const char *username, const char *realm,
		  const char *password, char *out, size_t out_len)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned h_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, alg == STORE_HA1_MD5 ? EVP_md5() : EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, username, strlen(username)) && EVP_DigestUpdate(ctx, ":", 1) &&
		 EVP_DigestUpdate(ctx, realm, strlen(realm)) && EVP_DigestUpdate(ctx, ":", 1) &&
		 EVP_DigestUpdate(ctx, password, strlen(password)) &&
		 EVP_DigestFinal_ex(ctx, h, &h_len);

	EVP_MD_CTX_free(ctx);
	if (!ok || out_len < 2 * (size_t)h_len + 1)
		return -1;
	for (unsigned i = 0; i < h_len; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[2 * h_len] = '\0';
	return 0;
}

static int copy_name(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static int parse_u32_field(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (*s == '\0') {
		*out = 0;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || s[0] == '-' || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_cidrs(const char *s, struct store_account *a)
{
	char buf[FIELD_MAX];
	char *save = NULL;

	if (copy_name(buf, sizeof(buf), s) != 0)
		return -1;
	a->n_cidrs = 0;
	for (char *tok = strtok_r(buf, " ;", &save); tok; tok = strtok_r(NULL, " ;", &save)) {
		if (a->n_cidrs == STORE_ACCOUNT_MAX_CIDRS)
			return -1;
		if (store_cidr_parse(tok, &a->cidrs[a->n_cidrs]) != 0)
			return -1;
		a->n_cidrs++;
	}
	return 0;
}

int store_account_from_fields(const char *const *fields, size_t n, const char *realm,
			      struct store_account *a, char *err, size_t err_len)
{
	static const char *const columns[MAX_COLUMNS] = {
		"username", "secret", "account", "auth_mode", "cidrs",
		"max_bindings", "min_expires", "max_expires",
	};
	const char *f[MAX_COLUMNS] = { "", "", "", "digest", "", "", "", "" };
	enum store_auth_mode mode;
	const char *problem;

	if (n < 2 || n > MAX_COLUMNS) {
		snprintf(err, err_len, "%zu columns: need 2 to %d (username, secret, ...)", n, MAX_COLUMNS);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (fields[i][0] || i != 3)
			f[i] = fields[i];
	memset(a, 0, sizeof(*a));
	a->version = STORE_ACCOUNT_VERSION;
	if (copy_name(a->username, sizeof(a->username), f[0]) != 0 ||
	    copy_name(a->account, sizeof(a->account), f[2][0] ? f[2] : f[0]) != 0 ||
	    copy_name(a->realm, sizeof(a->realm), realm) != 0) {
		snprintf(err, err_len, "username, account or realm longer than %d bytes",
			 STORE_ACCOUNT_NAME_MAX - 1);
		return -1;
	}
	if (store_auth_mode_parse(f[3], &mode) != 0) {
		snprintf(err, err_len, "auth_mode '%s': use digest, ip, ip+port or ip+digest", f[3]);
		return -1;
	}
	a->auth_mode = (uint8_t)mode;
	if (strncmp(f[1], "ha1:", 4) == 0) {
		const char *md5 = f[1] + 4, *colon = strchr(md5, ':');
		if (!colon || colon - md5 != 32 || strlen(colon + 1) != 64) {
			snprintf(err, err_len, "secret: 'ha1:' needs <32 hex md5>:<64 hex sha256>");
			return -1;
		}
		memcpy(a->ha1_md5, md5, 32);
		memcpy(a->ha1_sha256, colon + 1, 64);
		for (int i = 0; i < 32; i++)
			a->ha1_md5[i] = (char)(a->ha1_md5[i] | 0x20);
		for (int i = 0; i < 64; i++)
			a->ha1_sha256[i] = (char)(a->ha1_sha256[i] | 0x20);
	} else if (f[1][0]) {
		if (store_ha1_hex(STORE_HA1_MD5, a->username, realm, f[1], a->ha1_md5, sizeof(a->ha1_md5)) ||
		    store_ha1_hex(STORE_HA1_SHA256, a->username, realm, f[1], a->ha1_sha256,
				  sizeof(a->ha1_sha256))) {
			snprintf(err, err_len, "secret: cannot compute HA1");
			return -1;
		}
	}
	if (parse_cidrs(f[4], a) != 0) {
		snprintf(err, err_len, "cidrs '%s': up to %d of 198.18.0.0/24, 2001:db8::/64, 198.18.0.5:5060",
			 f[4], STORE_ACCOUNT_MAX_CIDRS);
		return -1;
	}
	uint32_t *numbers[3] = { &a->max_bindings, &a->min_expires_s, &a->max_expires_s };
	for (int i = 0; i < 3; i++)
		if (parse_u32_field(f[5 + i], numbers[i]) != 0) {
			snprintf(err, err_len, "%s '%s': must be a whole number", columns[5 + i], f[5 + i]);
			return -1;
		}
	if ((problem = store_account_validate(a)) != NULL) {
		snprintf(err, err_len, "%s", problem);
		return -1;
	}
	return 0;
}

struct csv_ctx {
	struct store_config *config;
	const char *realm;
	char fields[MAX_COLUMNS][FIELD_MAX];
	size_t n_fields;
	bool too_many_fields;
	bool field_too_long;
	size_t line;
	struct store_account *batch;
	size_t n_batch;
	struct store_import_stats *stats;
	char *err;
	size_t err_len;
	int failed;
};

static int flush_batch(struct csv_ctx *ctx)
{
	size_t bad = 0;
	int rc;

	if (ctx->n_batch == 0)
		return 0;
	rc = store_account_put_many(ctx->config, ctx->batch, ctx->n_batch, &bad);
	if (rc != 0) {
		snprintf(ctx->err, ctx->err_len, "writing accounts: LMDB error %d (account '%s')", rc,
			 ctx->batch[bad].username);
		return -1;
	}
	ctx->stats->imported += ctx->n_batch;
	ctx->n_batch = 0;
	return 0;
}

static void on_field(void *data, size_t len, void *arg)
{
	struct csv_ctx *ctx = arg;

	if (ctx->n_fields == MAX_COLUMNS) {
		ctx->too_many_fields = true;
		return;
	}
	if (len >= FIELD_MAX) {
		ctx->field_too_long = true;
		len = 0;
	}
	memcpy(ctx->fields[ctx->n_fields], data, len);
	ctx->fields[ctx->n_fields][len] = '\0';
	ctx->n_fields++;
}

static void on_row(int terminator, void *arg)
{
	struct csv_ctx *ctx = arg;
	const char *f[MAX_COLUMNS];
	char why[256];

	(void)terminator;
	ctx->line++;
	if (ctx->failed)
		goto reset;
	if (ctx->line == 1 && ctx->n_fields && strcmp(ctx->fields[0], "username") == 0)
		goto reset;
	if (ctx->n_fields == 1 && ctx->fields[0][0] == '\0')
		goto reset;                         /* blank line */
	ctx->stats->rows++;
	if (ctx->too_many_fields || ctx->field_too_long) {
		snprintf(ctx->err, ctx->err_len, "line %zu: %s", ctx->line,
			 ctx->too_many_fields ? "more than 8 columns" : "a field longer than 1023 bytes");
		ctx->failed = 1;
		goto reset;
	}
	for (size_t i = 0; i < ctx->n_fields; i++)
		f[i] = ctx->fields[i];
	if (store_account_from_fields(f, ctx->n_fields, ctx->realm, &ctx->batch[ctx->n_batch], why,
				      sizeof(why)) != 0) {
		snprintf(ctx->err, ctx->err_len, "line %zu: %s", ctx->line, why);
		ctx->failed = 1;
		goto reset;
	}
	if (++ctx->n_batch == IMPORT_BATCH && flush_batch(ctx) != 0)
		ctx->failed = 1;
reset:
	ctx->n_fields = 0;
	ctx->too_many_fields = false;
	ctx->field_too_long = false;
}

int store_account_import_csv(struct store_config *c, FILE *in, const char *realm,
			     struct store_import_stats *stats, char *err, size_t err_len)
{
	struct csv_parser parser;
	char buf[65536];
	size_t n;
	struct csv_ctx *ctx = calloc(1, sizeof(*ctx));

	memset(stats, 0, sizeof(*stats));
	if (!ctx || csv_init(&parser, CSV_APPEND_NULL) != 0) {
		free(ctx);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	ctx->batch = calloc(IMPORT_BATCH, sizeof(*ctx->batch));
	if (!ctx->batch) {
		free(ctx);
		csv_free(&parser);
		snprintf(err, err_len, "out of memory");
		return -1;
	}
	ctx->config = c;
	ctx->realm = realm;
	ctx->stats = stats;
	ctx->err = err;
	ctx->err_len = err_len;
	while (!ctx->failed && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (csv_parse(&parser, buf, n, on_field, on_row, ctx) != n) {
			snprintf(err, err_len, "line %zu: %s", ctx->line + 1,
				 csv_strerror(csv_error(&parser)));
			ctx->failed = 1;
		}
	}
	if (!ctx->failed)
		csv_fini(&parser, on_field, on_row, ctx);
	if (!ctx->failed && flush_batch(ctx) != 0)
		ctx->failed = 1;
	int rc = ctx->failed ? -1 : 0;
	csv_free(&parser);
	free(ctx->batch);
	free(ctx);
	return rc;
}
