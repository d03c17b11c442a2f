/*
 * account_import.h - accounts from operator input (CSV rows, command-line
 * fields) into struct store_account, and CSV import into the config env.
 *
 * Shared by tools/sipreg-accounts and sipreg-control so both accept the
 * same columns and give the same errors. Passwords are turned into HA1
 * (MD5 and SHA-256, RFC 7616 §3.4.2) here and never stored.
 *
 * Columns, in order (trailing ones may be omitted):
 *   username, secret, account, auth_mode, cidrs, max_bindings,
 *   min_expires, max_expires
 * secret: a password, or "ha1:<32 hex md5>:<64 hex sha256>" (HA1s already
 * computed with the import's realm). cidrs: space- or ';'-separated
 * store_cidr_parse() forms. Empty numbers mean "the global policy".
 * A first row whose first field is "username" is a header and skipped.
 */
#ifndef SIPREG_STORE_ACCOUNT_IMPORT_H
#define SIPREG_STORE_ACCOUNT_IMPORT_H

#include <stddef.h>
#include <stdio.h>

#include "account_store.h"

enum store_ha1_algorithm { STORE_HA1_MD5, STORE_HA1_SHA256 };

/* HA1 = H(username ":" realm ":" password) in lower-case hex into out
 * (at least 33 / 65 bytes). Returns 0, or -1 when out is too small or
 * OpenSSL fails. */
int store_ha1_hex(enum store_ha1_algorithm alg, const char *username, const char *realm,
		  const char *password, char *out, size_t out_len);

/* Builds an account from n fields in the column order above. Returns 0,
 * or -1 with a one-line reason naming the column in err. */
int store_account_from_fields(const char *const *fields, size_t n, const char *realm,
			      struct store_account *out, char *err, size_t err_len);

struct store_import_stats {
	size_t rows;          /* data rows read (header excluded) */
	size_t imported;      /* accounts written */
};

/* Reads CSV (RFC 4180) from in and writes every row as an account, in
 * transactions of up to 10,000 accounts. Stops at the first bad row with a
 * reason naming its line and column in err and returns -1; rows of earlier
 * transactions stay imported (stats say how many). Returns 0 on success. */
int store_account_import_csv(struct store_config *c, FILE *in, const char *realm,
			     struct store_import_stats *stats, char *err, size_t err_len);

#endif
